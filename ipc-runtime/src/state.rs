//! Managed state: one value per type, given to the builder, shared by every call.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::BuildError;

/// Type → value. Filled by the builder, read-only afterwards, so reads take no lock.
#[derive(Default)]
pub(crate) struct StateMap {
    values: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl StateMap {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Result<(), BuildError> {
        if self.values.contains_key(&TypeId::of::<T>()) {
            return Err(BuildError::DuplicateState {
                type_name: std::any::type_name::<T>(),
            });
        }
        self.values.insert(TypeId::of::<T>(), Arc::new(value));
        Ok(())
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let value = self.values.get(&TypeId::of::<T>())?;
        Arc::clone(value).downcast::<T>().ok()
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type() {
        let mut map = StateMap::default();
        map.insert(5_u32).unwrap();
        map.insert(String::from("x")).unwrap();
        assert_eq!(*map.get::<u32>().unwrap(), 5);
        assert_eq!(map.get::<String>().unwrap().as_str(), "x");
        assert!(map.get::<u64>().is_none());
        assert!(matches!(
            map.insert(6_u32),
            Err(BuildError::DuplicateState { .. })
        ));
        assert_eq!(map.len(), 2);
    }
}
