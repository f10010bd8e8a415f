// The page: makes images in the browser with the wasm generator (web/pkg, built by
// scripts/build-wasm.sh). No framework, no network after the first load (sw.js caches it).
//
// For tests and benchmarks the page publishes its state: <body data-state="loading|ready|error">,
// the grid canvas's data-* attributes (seed, count, cols, pad, width, height, label, truncation) and
// window.ganPage = { gan, info, timings }.

import init, * as gan from './pkg/gan_wasm.js';

const $ = (id) => document.getElementById(id);

/** Layout of the grid: images in `cols` columns with `pad` black pixels around each. */
const PAD = 2;
const SCALE = 4; // of the downloaded PNG

const page = { gan, info: null, timings: {} };
window.ganPage = page;

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

/** The class of conditional models (the selector's value); undefined for the others. */
function selectedClass() {
  return page.info.num_classes > 0 ? Number($('class').value) : undefined;
}

/** Truncation psi from the slider (0.05..2.00), or undefined at its right end ("off"). */
function selectedTruncation() {
  const v = Number($('truncation').value);
  return v > 200 ? undefined : v / 100;
}

function showTruncation() {
  const psi = selectedTruncation();
  $('truncation-value').textContent = psi === undefined ? 'off' : `psi ${psi.toFixed(2)}`;
}

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

function generateGrid() {
  showError('');
  let seed;
  try {
    seed = readSeed('seed', 'seed');
  } catch (e) {
    showError(errorMessage(e));
    return false;
  }
  const count = Number($('count').value);
  const label = selectedClass();
  const truncation = selectedTruncation();
  const t0 = performance.now();
  let rgba;
  try {
    rgba = gan.generate(seed, 0, count, label, truncation);
  } catch (e) {
    showError(errorMessage(e));
    return false;
  }
  const ms = performance.now() - t0;
  const canvas = $('grid');
  drawImages(canvas, rgba, count, Math.ceil(Math.sqrt(count)));
  canvas.dataset.seed = String(seed);
  canvas.dataset.label = label === undefined ? '' : String(label);
  canvas.dataset.truncation = truncation === undefined ? '' : String(truncation);
  page.timings.last = { count, ms };
  $('timing').textContent =
    `${count} images in ${ms.toFixed(1)} ms: ${(ms / count).toFixed(2)} ms per image`;
  $('download').disabled = false;
  history.replaceState(null, '', `#seed=${seed}`);
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
    rgba = gan.interpolate(a, b, index, t, selectedClass(), selectedTruncation());
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
    a.download = `gan-seed${src.dataset.seed}-${src.dataset.count}.png`;
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

async function main() {
  try {
    const t0 = performance.now();
    await init();
    const t1 = performance.now();
    page.info = JSON.parse(gan.model_info());
    gan.load();
    const t2 = performance.now();
    page.timings.init = { wasm_ms: t1 - t0, load_ms: t2 - t1 };
    $('model').textContent = `${describe(page.info)} Module ready in ${(t1 - t0).toFixed(0)} ms, ` +
      `weights loaded in ${(t2 - t1).toFixed(0)} ms.`;
  } catch (e) {
    document.body.dataset.state = 'error';
    showError(`The generator could not start: ${errorMessage(e)}`);
    return;
  }

  if (page.info.num_classes > 0) {
    const select = $('class');
    for (let i = 0; i < page.info.num_classes; i++) {
      select.add(new Option(page.info.class_names[i] || `class ${i}`, String(i)));
    }
    $('class-field').hidden = false;
    select.addEventListener('change', () => { generateGrid(); interpolateFrame(); });
  }

  const fromHash = /^#seed=(\d+)$/.exec(location.hash);
  if (fromHash) $('seed').value = fromHash[1];

  $('grid-form').addEventListener('submit', (e) => { e.preventDefault(); generateGrid(); });
  $('count').addEventListener('change', generateGrid);
  $('random').addEventListener('click', () => { $('seed').value = String(randomSeed()); generateGrid(); });
  $('download').addEventListener('click', download);
  $('interp-form').addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['t', 'seed-a', 'seed-b', 'interp-index']) {
    $(id).addEventListener('input', interpolateFrame);
  }
  $('play').addEventListener('click', togglePlay);
  $('truncation').addEventListener('input', () => { showTruncation(); generateGrid(); interpolateFrame(); });
  showTruncation();

  if (new URLSearchParams(location.search).has('bench')) {
    // Benchmark mode (tests/benches/browser.rs): one image, timed from navigation start.
    const t = performance.now();
    gan.generate(0, 0, 1, page.info.num_classes > 0 ? 0 : undefined);
    page.timings.first_generate_ms = performance.now() - t;
    page.timings.first_image_ms = performance.now();
    document.body.dataset.state = 'ready';
    return;
  }

  const t3 = performance.now();
  generateGrid();
  page.timings.first_grid_ms = performance.now() - t3;
  interpolateFrame();
  document.body.dataset.state = 'ready';

  if ('serviceWorker' in navigator) {
    // Offline after the first visit; failure (e.g. file://) only loses that.
    navigator.serviceWorker.register('sw.js').catch(() => {});
  }
}

main();
