// Compile-only (tests/js/tsconfig.impl.json, run by `npm run check:types`):
// the hand-written declarations (ipc.d.ts, ipc-tauri.d.ts, ipc-stdio.d.ts)
// must describe the JavaScript modules next to them, both ways:
//
// - the same exports: nothing declared is missing from the JavaScript, and
//   the JavaScript exports nothing undeclared;
// - each export's type as the JavaScript has it (from its JSDoc and what the
//   checker infers) and as declared are assignable to each other;
// - each function's and method's parameters and result are the same, strictly
//   (the same number of parameters, each accepting the same values);
// - for the classes, the same statics and public instance members too, and
//   none writable in the declarations but read-only in the JavaScript.
//
// The trick: "./ipc.js" next to an "./ipc.d.ts" resolves to the declarations
// (TypeScript prefers a .d.ts to a .js), which is what users get. So both
// sides are reached through `paths` aliases (tsconfig.impl.json) naming each
// file with its extension: a `paths` target that names an existing file is
// taken as it is, so "impl:ipc" is the JavaScript itself, typed by checkJs,
// and "decl:ipc" the declarations. Inside the JavaScript, imports of "./ipc.js"
// (ipc-tauri.js's) and JSDoc imports of "./ipc.d.ts" still resolve to the
// declarations: each module is compared on its own, against what it declares.
//
// Reading a failure: each check below is a `const` whose name says what it
// compares; TypeScript reports the first member or parameter that differs.
// A key-set check fails with "Property 'foo' is missing in type '{}' but
// required in type '{ foo: "<what is wrong>" }'", naming the key. (The two
// sides of a class share its name and path in messages, as in "Two different
// types with this name exist": the line says which is which.)
//
// Two TypeScript rules shape the checks, so that they do not pass too easily:
// - A method's parameters are compared both ways round (bivariance): a
//   method accepting more, or less, than declared would pass a plain
//   assignment. So parameters are also compared as tuples ("signatures"
//   below), where each must accept the same values.
// - Two instantiations of one generic type alias (`Wrap<A>` and `Wrap<B>`)
//   may be compared through their type arguments alone, which brings the
//   bivariance back. So the signature views are written out inline, never
//   as an alias applied to both sides.

import * as Decl from "decl:ipc";
import * as Impl from "impl:ipc";
import * as TauriDecl from "decl:ipc-tauri";
import * as TauriImpl from "impl:ipc-tauri";
import * as StdioDecl from "decl:ipc-stdio";
import * as StdioImpl from "impl:ipc-stdio";

// ---- helpers ----

/**
 * A class instance's public members: those with string names. The symbol-keyed
 * ones (Channel's wiring, IpcClient's start) are keyed by symbols ipc.js never
 * exports, so nothing outside it can reach them.
 */
type Public<T> = { [K in keyof T as K extends string ? K : never]: T[K] };

/** A class's static side without its constructor: `prototype` and the statics. */
type Statics<C> = { [K in keyof C]: C[K] };

/** Whether X and Y are the same type, modifiers included. */
type Same<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;

/** The read-only members of T (a getter without a setter is one). */
type ReadonlyKeys<T> = {
  [K in keyof T]-?: Same<{ [Q in K]: T[K] }, { -readonly [Q in K]: T[K] }> extends true ? never : K;
}[keyof T];

/** A type nothing else is, to instantiate the generic classes with. */
type Probe = { readonly probe: "impl-matches-declarations" };

/**
 * `connect` (two overloads) resolving to the client's public side: the
 * declared IpcClient has no private state, so only that side compares.
 */
type ResolvingToPublic<F> = F extends {
  (...args: infer A1): Promise<infer R1>;
  (...args: infer A2): Promise<infer R2>;
}
  ? { (...args: A1): Promise<Public<R1>>; (...args: A2): Promise<Public<R2>> }
  : never;

// Each `const x: { [K in ...]: "why" } = {}` below compiles only when the key
// set is empty.

// ---- ipc.js: exports ----

export const ipcJsLacks: { [K in Exclude<keyof typeof Decl, keyof typeof Impl>]: "declared in ipc.d.ts, not exported by ipc.js" } = {};
export const ipcDtsLacks: { [K in Exclude<keyof typeof Impl, keyof typeof Decl>]: "exported by ipc.js, not declared in ipc.d.ts" } = {};

export const errorCode: [typeof Decl.ErrorCode, typeof Impl.ErrorCode] = [Impl.ErrorCode, Decl.ErrorCode];
export const defaultUrl: [typeof Decl.defaultUrl, typeof Impl.defaultUrl] = [Impl.defaultUrl, Decl.defaultUrl];
export const connect: [typeof Decl.connect, ResolvingToPublic<typeof Impl.connect>] = [Impl.connect, Decl.connect];
export const invoke: [typeof Decl.invoke, typeof Impl.invoke] = [Impl.invoke, Decl.invoke];
export const listen: [typeof Decl.listen, typeof Impl.listen] = [Impl.listen, Decl.listen];
export const once: [typeof Decl.once, typeof Impl.once] = [Impl.once, Decl.once];
export const emit: [typeof Decl.emit, typeof Impl.emit] = [Impl.emit, Decl.emit];

// The functions' signatures: [parameters, result] of each (connect's, of each
// overload, below; it resolves to an IpcClient, compared as a class below).
declare const ipcJsSignatures: {
  [K in Exclude<keyof typeof Impl, "connect">]: (typeof Impl)[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : "not a function";
};
declare const ipcDtsSignatures: {
  [K in Exclude<keyof typeof Decl, "connect">]: (typeof Decl)[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : "not a function";
};
export const signatures: [typeof ipcDtsSignatures, typeof ipcJsSignatures] = [ipcJsSignatures, ipcDtsSignatures];
declare const ipcJsConnect: typeof Impl.connect extends { (...args: infer A1): unknown; (...args: infer A2): unknown } ? [A1, A2] : never;
declare const ipcDtsConnect: typeof Decl.connect extends { (...args: infer A1): unknown; (...args: infer A2): unknown } ? [A1, A2] : never;
export const connectOverloads: [typeof ipcDtsConnect, typeof ipcJsConnect] = [ipcJsConnect, ipcDtsConnect];

// ---- ipc.js: IpcError (no private state, so compared whole, both ways) ----

export const ipcErrorClass: [typeof Decl.IpcError, typeof Impl.IpcError] = [Impl.IpcError, Decl.IpcError];
declare const ipcJsErrorArgs: ConstructorParameters<typeof Impl.IpcError>;
declare const ipcDtsErrorArgs: ConstructorParameters<typeof Decl.IpcError>;
export const ipcErrorArgs: [typeof ipcDtsErrorArgs, typeof ipcJsErrorArgs] = [ipcJsErrorArgs, ipcDtsErrorArgs];
export const ipcErrorStatics: { [K in Exclude<keyof typeof Impl.IpcError, keyof typeof Decl.IpcError>]: "a static of ipc.js's IpcError, not declared" } = {};
export const ipcErrorMembers: { [K in Exclude<keyof Impl.IpcError, keyof Decl.IpcError>]: "a member of ipc.js's IpcError, not declared" } = {};
export const ipcErrorReadonly: { [K in Exclude<ReadonlyKeys<Impl.IpcError>, ReadonlyKeys<Decl.IpcError>>]: "read-only in ipc.js, writable in ipc.d.ts" } = {};

// ---- ipc.js: Channel<T> ----
// The JavaScript class is assignable to the declared one (constructor and
// instances); the declared instances have its public members.

export const channelClass: typeof Decl.Channel = Impl.Channel;
declare const ipcJsChannel: Impl.Channel<Probe>;
declare const ipcDtsChannel: Decl.Channel<Probe>;
export const channel: [Decl.Channel<Probe>, Public<Impl.Channel<Probe>>] = [ipcJsChannel, ipcDtsChannel];
declare const ipcJsChannelArgs: ConstructorParameters<typeof Impl.Channel<Probe>>;
declare const ipcDtsChannelArgs: ConstructorParameters<typeof Decl.Channel<Probe>>;
export const channelArgs: [typeof ipcDtsChannelArgs, typeof ipcJsChannelArgs] = [ipcJsChannelArgs, ipcDtsChannelArgs];
declare const ipcJsChannelSignatures: {
  [K in keyof Public<Impl.Channel<Probe>>]: Impl.Channel<Probe>[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : Impl.Channel<Probe>[K];
};
declare const ipcDtsChannelSignatures: {
  [K in keyof Decl.Channel<Probe>]: Decl.Channel<Probe>[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : Decl.Channel<Probe>[K];
};
export const channelSignatures: [typeof ipcDtsChannelSignatures, typeof ipcJsChannelSignatures] = [ipcJsChannelSignatures, ipcDtsChannelSignatures];
export const channelStatics: { [K in Exclude<keyof typeof Impl.Channel, keyof typeof Decl.Channel>]: "a static of ipc.js's Channel, not declared" } = {};
export const channelMembers: { [K in Exclude<keyof Public<Impl.Channel<Probe>>, keyof Decl.Channel<Probe>>]: "a member of ipc.js's Channel, not declared" } = {};
export const channelReadonly: { [K in Exclude<ReadonlyKeys<Public<Impl.Channel<Probe>>>, ReadonlyKeys<Decl.Channel<Probe>>>]: "read-only in ipc.js, writable in ipc.d.ts" } = {};

// ---- ipc.js: IpcClient ----
// The declared constructor is private (`connect` makes clients), so the
// static sides are compared without it.

export const ipcClientClass: Statics<typeof Decl.IpcClient> = Impl.IpcClient;
declare const ipcJsClient: Impl.IpcClient;
declare const ipcDtsClient: Decl.IpcClient;
export const ipcClient: [Decl.IpcClient, Public<Impl.IpcClient>] = [ipcJsClient, ipcDtsClient];
declare const ipcJsClientSignatures: {
  [K in keyof Public<Impl.IpcClient>]: Impl.IpcClient[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : Impl.IpcClient[K];
};
declare const ipcDtsClientSignatures: {
  [K in keyof Decl.IpcClient]: Decl.IpcClient[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : Decl.IpcClient[K];
};
export const ipcClientSignatures: [typeof ipcDtsClientSignatures, typeof ipcJsClientSignatures] = [ipcJsClientSignatures, ipcDtsClientSignatures];
export const ipcClientStatics: { [K in Exclude<keyof typeof Impl.IpcClient, keyof typeof Decl.IpcClient>]: "a static of ipc.js's IpcClient, not declared" } = {};
export const ipcClientMembers: { [K in Exclude<keyof Public<Impl.IpcClient>, keyof Decl.IpcClient>]: "a member of ipc.js's IpcClient, not declared" } = {};
export const ipcClientReadonly: { [K in Exclude<ReadonlyKeys<Public<Impl.IpcClient>>, ReadonlyKeys<Decl.IpcClient>>]: "read-only in ipc.js, writable in ipc.d.ts" } = {};

// ---- ipc-tauri.js ----

export const ipcTauriJsLacks: { [K in Exclude<keyof typeof TauriDecl, keyof typeof TauriImpl>]: "declared in ipc-tauri.d.ts, not exported by ipc-tauri.js" } = {};
export const ipcTauriDtsLacks: { [K in Exclude<keyof typeof TauriImpl, keyof typeof TauriDecl>]: "exported by ipc-tauri.js, not declared in ipc-tauri.d.ts" } = {};
export const installTauriInternals: [typeof TauriDecl.installTauriInternals, typeof TauriImpl.installTauriInternals] = [
  TauriImpl.installTauriInternals,
  TauriDecl.installTauriInternals,
];
declare const ipcTauriJsSignatures: {
  [K in keyof typeof TauriImpl]: (typeof TauriImpl)[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : "not a function";
};
declare const ipcTauriDtsSignatures: {
  [K in keyof typeof TauriDecl]: (typeof TauriDecl)[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : "not a function";
};
export const tauriSignatures: [typeof ipcTauriDtsSignatures, typeof ipcTauriJsSignatures] = [ipcTauriJsSignatures, ipcTauriDtsSignatures];

// ---- ipc-stdio.js ----

export const ipcStdioJsLacks: { [K in Exclude<keyof typeof StdioDecl, keyof typeof StdioImpl>]: "declared in ipc-stdio.d.ts, not exported by ipc-stdio.js" } = {};
export const ipcStdioDtsLacks: { [K in Exclude<keyof typeof StdioImpl, keyof typeof StdioDecl>]: "exported by ipc-stdio.js, not declared in ipc-stdio.d.ts" } = {};
export const stdioTransport: [typeof StdioDecl.stdioTransport, typeof StdioImpl.stdioTransport] = [
  StdioImpl.stdioTransport,
  StdioDecl.stdioTransport,
];
declare const ipcStdioJsSignatures: {
  [K in keyof typeof StdioImpl]: (typeof StdioImpl)[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : "not a function";
};
declare const ipcStdioDtsSignatures: {
  [K in keyof typeof StdioDecl]: (typeof StdioDecl)[K] extends (...args: infer A) => infer R ? [parameters: A, result: R] : "not a function";
};
export const stdioSignatures: [typeof ipcStdioDtsSignatures, typeof ipcStdioJsSignatures] = [ipcStdioJsSignatures, ipcStdioDtsSignatures];
