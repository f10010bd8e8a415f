// The page: makes images in the browser with the wasm generators (web/pkg, built by
// scripts/build-wasm.sh). The module holds every model's code; a model's int8 weights
// (pkg/models/<id>.bpk) are fetched when it is picked. No framework, no network after the
// first load of a model (sw.js caches what was fetched).
//
// For tests and benchmarks the page publishes its state: <body data-state="loading|ready|error">
// (data-model: the model shown), the grid canvas's data-* attributes (model, seed, count, cols,
// pad, width, height, label, layout, truncation) and
// window.ganPage = { gan, models, info, generator, timings, pick(id) }.
//
// "Open your own" runs a generator.onnx made by `trainer --export` (read at run time, f32
// weights); it shows up in the picker as "<file name> (opened file)", id `file`.

import init, * as gan from './pkg/gan_wasm.js';

const $ = (id) => document.getElementById(id);

/** Layout of the grid: images in `cols` columns with `pad` black pixels around each. */
const PAD = 2;
const SCALE = 4; // of the downloaded PNG
const PER_CLASS_COLS = 10; // images per row in "one row per class"

const page = { gan, models: [], info: null, generator: null, timings: {}, pick: pickModel };
window.ganPage = page;
/** Loaded generators by id: switching back to a model does not fetch it again. */
const loaded = new Map();

function showError(message) {
  const el = $('error');
  el.textContent = message || '';
  el.hidden = !message;
}

function errorMessage(e) {
  return e instanceof Error ? e.message : String(e);
}

/** Reads a seed-like field: a number, or throws the message to show (and marks the field). */
function readSeed(id, what) {
  const input = $(id);
  try {
    const v = gan.parse_seed(input.value);
    input.removeAttribute('aria-invalid');
    return v;
  } catch (e) {
    input.setAttribute('aria-invalid', 'true');
    throw new Error(errorMessage(e).replace(/^seed/, what));
  }
}

const conditional = () => page.info.num_classes > 0;

/** The class of conditional models (the selector's value); undefined for the others. */
function selectedClass() {
  return conditional() ? Number($('class').value) : undefined;
}

const perClass = () => conditional() && $('per-class').checked;

/** Truncation psi from the slider (0.05..2.00), or undefined at its right end ("off"). */
function selectedTruncation() {
  const v = Number($('truncation').value);
  return v > 200 ? undefined : v / 100;
}

function showTruncation() {
  const psi = selectedTruncation();
  $('truncation-value').textContent = psi === undefined ? 'off' : `psi ${psi.toFixed(2)}`;
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** Draws `count` images (RGBA, one after the other) in `cols` columns. */
function drawImages(canvas, rgba, count, cols) {
  const { width: w, height: h } = page.info;
  const rows = Math.ceil(count / cols);
  canvas.width = cols * w + (cols + 1) * PAD;
  canvas.height = rows * h + (rows + 1) * PAD;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const size = w * h * 4;
  for (let i = 0; i < count; i++) {
    const img = new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset + i * size, size), w, h);
    ctx.putImageData(img, PAD + (i % cols) * (w + PAD), PAD + Math.floor(i / cols) * (h + PAD));
  }
  Object.assign(canvas.dataset, { count, cols, pad: PAD, width: w, height: h });
}

/** The grid's images: `count` samples of one class, or one row of samples per class. */
function gridImages(seed, truncation) {
  const g = page.generator;
  if (perClass()) {
    const n = page.info.num_classes;
    const size = page.info.width * page.info.height * 4;
    const rgba = new Uint8Array(n * PER_CLASS_COLS * size);
    for (let c = 0; c < n; c++) {
      rgba.set(g.generate(seed, 0, PER_CLASS_COLS, c, truncation), c * PER_CLASS_COLS * size);
    }
    return { rgba, count: n * PER_CLASS_COLS, cols: PER_CLASS_COLS, label: undefined };
  }
  const count = Number($('count').value);
  const label = selectedClass();
  const rgba = g.generate(seed, 0, count, label, truncation);
  return { rgba, count, cols: Math.ceil(Math.sqrt(count)), label };
}

function generateGrid() {
  showError('');
  let seed;
  try {
    seed = readSeed('seed', 'seed');
  } catch (e) {
    showError(errorMessage(e));
    return false;
  }
  const truncation = selectedTruncation();
  const t0 = performance.now();
  let images;
  try {
    images = gridImages(seed, truncation);
  } catch (e) {
    showError(errorMessage(e));
    return false;
  }
  const ms = performance.now() - t0;
  const { rgba, count, cols, label } = images;
  const canvas = $('grid');
  drawImages(canvas, rgba, count, cols);
  Object.assign(canvas.dataset, {
    model: page.info.id,
    seed: String(seed),
    label: label === undefined ? '' : String(label),
    layout: perClass() ? 'per-class' : 'grid',
    truncation: truncation === undefined ? '' : String(truncation),
  });
  const legend = $('rows-legend');
  legend.hidden = !perClass();
  if (perClass()) {
    const names = Array.from({ length: page.info.num_classes },
      (_, c) => page.info.class_names[c] || `class ${c}`);
    legend.textContent = `Rows, top to bottom: ${names.join(' · ')}`;
  }
  page.timings.last = { count, ms };
  $('timing').textContent =
    `${count} images in ${ms.toFixed(1)} ms: ${(ms / count).toFixed(2)} ms per image`;
  $('download').disabled = false;
  // An opened file is not in the URL: a reload cannot open it again.
  const model = page.info.id === 'file' ? '' : `model=${page.info.id}&`;
  history.replaceState(null, '', `#${model}seed=${seed}`);
  return true;
}

function interpolateFrame() {
  showError('');
  const t = Number($('t').value) / 1000;
  $('t-value').textContent = t.toFixed(2);
  let rgba;
  const t0 = performance.now();
  try {
    const a = readSeed('seed-a', 'seed A');
    const b = readSeed('seed-b', 'seed B');
    const index = readSeed('interp-index', 'sample');
    rgba = page.generator.interpolate(a, b, index, t, selectedClass(), selectedTruncation());
  } catch (e) {
    showError(errorMessage(e));
    stopPlaying();
    return;
  }
  const ms = performance.now() - t0;
  const canvas = $('interp');
  const { width: w, height: h } = page.info;
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer), w, h), 0, 0);
  $('interp-timing').textContent = `t = ${t.toFixed(2)}: ${ms.toFixed(2)} ms`;
}

let playing = null;
function stopPlaying() {
  if (playing !== null) cancelAnimationFrame(playing);
  playing = null;
  $('play').textContent = 'Play';
}
function togglePlay() {
  if (playing !== null) return stopPlaying();
  $('play').textContent = 'Pause';
  let dir = 1;
  let last = performance.now();
  const step = (now) => {
    const slider = $('t');
    let v = Number(slider.value) + dir * (now - last) / 2; // 2 s from A to B
    last = now;
    if (v >= 1000 || v <= 0) {
      v = Math.min(1000, Math.max(0, v));
      dir = -dir;
    }
    slider.value = String(Math.round(v));
    interpolateFrame();
    if (playing !== null) playing = requestAnimationFrame(step);
  };
  playing = requestAnimationFrame(step);
}

function download() {
  const src = $('grid');
  const out = document.createElement('canvas');
  out.width = src.width * SCALE;
  out.height = src.height * SCALE;
  const ctx = out.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, out.width, out.height);
  out.toBlob((blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${src.dataset.model}-seed${src.dataset.seed}-${src.dataset.count}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, 'image/png');
}

function randomSeed() {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
  return (hi % 2 ** 21) * 2 ** 32 + lo; // uniform in 0..2^53
}

function describe(info) {
  const kind = info.num_classes > 0 ? `${info.num_classes} classes` : 'unconditional';
  return `${info.model_file}: ${info.arch || 'generator'} trained ${info.steps} steps on ` +
    `${info.dataset || 'unknown data'}; ${info.channels}×${info.height}×${info.width} images, ` +
    `latent ${info.latent_dim}, ${kind}, ${info.weights} weights.`;
}

function optionLabel(info) {
  const kind = info.num_classes > 0 ? `${info.num_classes} classes` : 'unconditional';
  const colour = info.channels === 3 ? 'colour' : 'gray';
  return `${info.id} (${info.height}×${info.width} ${colour}, ${kind})`;
}

/** Fetches model `id`'s weights and loads them (or takes the loaded generator). */
async function loadGenerator(info) {
  if (loaded.has(info.id)) return { generator: loaded.get(info.id), fetch_ms: 0, load_ms: 0 };
  const url = `pkg/${info.weights_file}`;
  const t0 = performance.now();
  let bytes;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new Error(`could not download ${url} (${errorMessage(e)}); check the connection and ` +
      'reload the page');
  }
  const t1 = performance.now();
  const generator = gan.Generator.load(info.id, bytes);
  const t2 = performance.now();
  loaded.set(info.id, generator);
  return { generator, fetch_ms: t1 - t0, load_ms: t2 - t1 };
}

/** Shows the class controls of the current model. */
function showClasses() {
  const select = $('class');
  select.replaceChildren();
  const info = page.info;
  for (let i = 0; i < info.num_classes; i++) {
    select.add(new Option(info.class_names[i] || `class ${i}`, String(i)));
  }
  $('class-field').hidden = info.num_classes === 0;
  $('per-class-field').hidden = info.num_classes === 0;
  syncLayout();
}

/** "One row per class" replaces the class and image-count choices. */
function syncLayout() {
  $('class').disabled = perClass();
  $('count').disabled = perClass();
}

/** Shows `generator` (described by `info`) on the page. */
function activate(info, generator, note) {
  page.generator = generator;
  page.info = info;
  $('model').textContent = `${describe(info)} ${note}`;
  $('model-select').value = info.id;
  showClasses();
  stopPlaying();
  if (!new URLSearchParams(location.search).has('bench')) {
    const t = performance.now();
    generateGrid();
    page.timings.first_grid_ms = performance.now() - t;
    interpolateFrame();
  }
  document.body.dataset.model = info.id;
}

/** Switches the page to model `id`; on failure, keeps the current model and says why. */
async function pickModel(id) {
  if (id === 'file' && fileModel) {
    activate(fileModel.info, fileModel.generator, fileModel.note);
    return true;
  }
  const info = page.models.find((m) => m.id === id);
  if (!info) {
    showError(`no model "${id}" on this page; it has ${page.models.map((m) => m.id).join(', ')}`);
    $('model-select').value = page.info ? page.info.id : '';
    return false;
  }
  document.body.dataset.state = 'loading';
  $('model-select').disabled = true;
  showError('');
  try {
    const { generator, fetch_ms, load_ms } = await loadGenerator(info);
    page.timings.model = { id, fetch_ms, load_ms };
    activate(info, generator, `Weights: ${kib(info.weights_bytes)}` +
      (fetch_ms ? `, fetched in ${fetch_ms.toFixed(0)} ms and loaded in ${load_ms.toFixed(0)} ms.` : '.'));
    return true;
  } catch (e) {
    showError(`The model ${id} could not be loaded: ${errorMessage(e)}`);
    $('model-select').value = page.info ? page.info.id : id;
    return false;
  } finally {
    $('model-select').disabled = false;
    document.body.dataset.state = page.generator ? 'ready' : 'error';
  }
}

/** The generator opened from a file, if any: { info, generator, note }. */
let fileModel = null;

/** Runs a generator.onnx the visitor opened; on failure, keeps the current model and says why. */
async function openFile(file) {
  if (!file) return false;
  document.body.dataset.state = 'loading';
  showError('');
  try {
    const t0 = performance.now();
    const bytes = new Uint8Array(await file.arrayBuffer());
    const generator = gan.Generator.from_onnx(file.name, bytes);
    const info = JSON.parse(generator.info());
    const ms = performance.now() - t0;
    // The file opened before is replaced: give its weights back to the module's memory.
    if (fileModel) fileModel.generator.free();
    fileModel = { info, generator, note: `Opened from this device (${kib(file.size)}, f32 weights) in ${ms.toFixed(0)} ms.` };
    const select = $('model-select');
    let option = Array.from(select.options).find((o) => o.value === 'file');
    if (!option) {
      option = new Option('', 'file');
      select.add(option);
    }
    option.text = `${file.name} (opened file)`;
    activate(info, generator, fileModel.note);
    return true;
  } catch (e) {
    // The message starts with the file's name.
    showError(`The file could not be opened: ${errorMessage(e)}`);
    return false;
  } finally {
    $('open-model').value = '';
    document.body.dataset.state = page.generator ? 'ready' : 'error';
  }
}

async function main() {
  try {
    const t0 = performance.now();
    await init();
    page.timings.init = { wasm_ms: performance.now() - t0 };
    page.models = JSON.parse(gan.models());
  } catch (e) {
    document.body.dataset.state = 'error';
    showError(`The generator could not start: ${errorMessage(e)}`);
    return;
  }
  const select = $('model-select');
  for (const m of page.models) select.add(new Option(optionLabel(m), m.id));

  const params = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  if (/^\d+$/.test(params.get('seed') || '')) $('seed').value = params.get('seed');
  const wanted = query.get('model') || params.get('model');
  const first = page.models.some((m) => m.id === wanted) ? wanted : page.models[0].id;

  select.addEventListener('change', () => pickModel(select.value));
  $('open-model').addEventListener('change', (e) => openFile(e.target.files[0]));
  $('grid-form').addEventListener('submit', (e) => { e.preventDefault(); generateGrid(); });
  $('count').addEventListener('change', generateGrid);
  $('class').addEventListener('change', () => { generateGrid(); interpolateFrame(); });
  $('per-class').addEventListener('change', () => { syncLayout(); generateGrid(); });
  $('random').addEventListener('click', () => { $('seed').value = String(randomSeed()); generateGrid(); });
  $('download').addEventListener('click', download);
  $('interp-form').addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['t', 'seed-a', 'seed-b', 'interp-index']) {
    $(id).addEventListener('input', interpolateFrame);
  }
  $('play').addEventListener('click', togglePlay);
  $('truncation').addEventListener('input', () => { showTruncation(); generateGrid(); interpolateFrame(); });
  showTruncation();

  if (query.has('bench')) {
    // Benchmark mode (tests/benches/browser.rs): the model's weights, then one image, timed
    // from navigation start.
    if (!(await pickModel(first))) return;
    const t = performance.now();
    page.generator.generate(0, 0, 1, conditional() ? 0 : undefined);
    page.timings.first_generate_ms = performance.now() - t;
    page.timings.first_image_ms = performance.now();
    return;
  }
  if (wanted && wanted !== first) {
    await pickModel(first);
    showError(`no model "${wanted}" on this page; showing ${first}`);
  } else {
    await pickModel(first);
  }

  if ('serviceWorker' in navigator) {
    // Offline after the first visit; failure (e.g. file://) only loses that. The weights
    // fetched before the worker took over are fetched again through it, so it caches them;
    // models picked later go through it anyway.
    navigator.serviceWorker.register('sw.js')
      .then(() => navigator.serviceWorker.ready)
      .then(() => {
        const cacheLoaded = () => {
          for (const m of page.models) {
            if (loaded.has(m.id)) fetch(`pkg/${m.weights_file}`).catch(() => {});
          }
        };
        if (navigator.serviceWorker.controller) cacheLoaded();
        else navigator.serviceWorker.addEventListener('controllerchange', cacheLoaded, { once: true });
      })
      .catch(() => {});
  }
}

main();
