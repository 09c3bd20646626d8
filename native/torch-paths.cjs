// Finds libtorch for the native build, in the order DESIGN.md gives:
//   1. LIBTORCH (a prefix with include/ and lib/)
//   2. the system install (Debian libtorch-dev: /usr/include/torch, multiarch lib dir)
//   3. a Python torch package (how GPU machines get CUDA)
// Usage: node native/torch-paths.cjs include|libdir|defines|json
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function fromPrefix(prefix, how) {
  const include = path.join(prefix, 'include');
  const api = path.join(include, 'torch', 'csrc', 'api', 'include');
  const libdir = path.join(prefix, 'lib');
  if (!fs.existsSync(path.join(api, 'torch', 'version.h'))) return null;
  return { how, include: [include, api], libdir, abi: cxx11Abi(prefix) };
}

// pip wheels before torch 2.7 use the pre-C++11 std::string ABI; our addon must match.
function cxx11Abi(prefix) {
  const cfg = path.join(prefix, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  if (fs.existsSync(cfg)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(fs.readFileSync(cfg, 'utf8'));
    if (m) return m[1];
  }
  return null;
}

function system() {
  const api = '/usr/include/torch/csrc/api/include';
  if (!fs.existsSync(path.join(api, 'torch', 'version.h'))) return null;
  const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const libdir = candidates.find((d) => fs.existsSync(path.join(d, 'libtorch.so')));
  if (!libdir) return null;
  return { how: 'system (libtorch-dev)', include: ['/usr/include', api], libdir, abi: '1' };
}

function python() {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      const out = execFileSync(py, ['-c',
        'import torch,os,json;print(json.dumps([os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI)]))'],
        { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
      const [dir, abi] = JSON.parse(out);
      const found = fromPrefix(dir, `python torch (${py})`);
      if (found) return { ...found, abi: String(abi) };
    } catch { /* try the next interpreter */ }
  }
  return null;
}

function find() {
  if (process.env.LIBTORCH) {
    const found = fromPrefix(process.env.LIBTORCH, 'LIBTORCH');
    if (!found) throw new Error(`LIBTORCH=${process.env.LIBTORCH} has no include/torch/csrc/api/include/torch/version.h; point it at an unpacked libtorch`);
    return found;
  }
  return system() || python();
}

const found = find();
const what = process.argv[2] || 'json';
if (!found) {
  if (what === 'json') { console.log('null'); process.exit(0); }
  console.error('libtorch not found: set LIBTORCH, or install Debian libtorch-dev, or a Python torch package');
  process.exit(1);
}
if (what === 'include') console.log(found.include.join(' '));
else if (what === 'libdir') console.log(found.libdir);
else if (what === 'defines') console.log(found.abi === null ? '' : `_GLIBCXX_USE_CXX11_ABI=${found.abi}`);
else console.log(JSON.stringify(found));
