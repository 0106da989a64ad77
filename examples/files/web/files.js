// The page of `cargo run --example files`: a dropped or picked file streams to
// the `files.checksum` command (an `Upload` argument); a Channel feeds the
// progress bar with the bytes Rust has read so far.
import { Channel, connect } from "/ipc.js";

const $ = (id) => document.getElementById(id);
const ipc = await connect();
$("status").textContent = "Ready: drop a file.";

async function checksum(file) {
  $("name").textContent = file.name;
  $("size").textContent = $("sha256").textContent = "–";
  $("bar").max = Math.max(file.size, 1);
  $("bar").value = 0;
  $("status").textContent = "Reading…";
  const started = performance.now();
  const progress = new Channel((read) => {
    $("bar").value = read;
    $("status").textContent = `Read ${read.toLocaleString()} of ${file.size.toLocaleString()} bytes`;
  });
  try {
    const { size, sha256 } = await ipc.invoke("files.checksum", { file, progress });
    $("size").textContent = `${size.toLocaleString()} bytes`;
    $("sha256").textContent = sha256;
    $("bar").value = $("bar").max;
    const seconds = (performance.now() - started) / 1000;
    $("status").textContent = `Done in ${seconds.toFixed(2)} s.`;
  } catch (e) {
    $("status").textContent = `Failed: ${e.message}`;
  }
}

$("pick").addEventListener("change", () => {
  const file = $("pick").files[0];
  if (file) checksum(file);
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) checksum(file);
});
