#!/usr/bin/env python3
"""Compresses single layers with the authors' reference implementations, for
scripts/reference_compare.mjs (the bridge that runs our sequential protocol).

This file holds no reference code: it imports it, unchanged, from a folder given on the
command line, laid out as

  <reference>/IST-DASLab/gptq/{gptq.py,quant.py}            (GPTQ, class GPTQ + Quantizer)
  <reference>/IST-DASLab/sparsegpt/{sparsegpt.py,quant.py}  (SparseGPT, class SparseGPT + Quantizer)
  <reference>/locuslab/wanda/lib/{prune.py,layerwrapper.py} (Wanda, prune_wanda / prune_magnitude)

and calls GPTQ.fasterquant, SparseGPT.fasterprune, prune_wanda and prune_magnitude on one
nn.Linear at a time. What the reference code needs beyond a CPU build of PyTorch is shimmed here
without touching it: `transformers` (only its Conv1D class is used, for isinstance), CUDA calls
(torch.cuda.synchronize, Tensor.cuda) and Wanda's data loader (its C4 loader is replaced by one
calibration "token" whose squared entries are diag(H)/2, so that WrappedGPT.scaler_row, the mean
of the squared inputs, equals diag(H)/2 = (1/n)·Σ x_j² exactly as with the real inputs).

Protocol: one JSON request per line on stdin, one JSON answer per line on stdout. Matrices are
raw little-endian float32 files: W [rows x cols] (row-major, [out x in]), H [cols x cols].

  {"op": "gptq", "w": path, "h": path, "rows": r, "cols": c, "nsamples": n, "bits": 4,
   "groupsize": 32 | -1, "out": path, "blocksize": 128 (optional, GPTQ / SparseGPT)}
  {"op": "rtn", ..., "bits": 4, "groupsize": 32 | -1}        GPTQ repo's Quantizer, min/max, round
  {"op": "sparsegpt", ..., "sparsity": 0.5, "prunen": 0 | 2, "prunem": 0 | 4, "bits": 0 | 4}
  {"op": "wanda", ..., "sparsity": 0.5, "prunen": 0 | 2, "prunem": 0 | 4}
  {"op": "magnitude", "w": path, "rows": r, "cols": c, "sparsity": 0.5, "prunen": ..., "prunem": ...}
  {"op": "loss", "w": path, "wq": path, "h": path, "rows": r, "cols": c, "damp": 0.01}
      -> {"loss": ½·tr(ΔW·H·ΔWᵀ), "lossDamped": the same with H + damp·mean(diag H)·I} in float64

Answers: {"ok": true, "error": <the reference's own printed 'error' (sum of its Losses)>} or
{"ok": false, "message": ...}. Settings are GPTQ's and SparseGPT's defaults otherwise:
blocksize 128, percdamp 0.01, symmetric min/max quantizer (mse off), no act-order.

Usage: python3 scripts/reference_layer.py --reference /tmp/reference   (then requests on stdin)
       python3 scripts/reference_layer.py --reference /tmp/reference --check
"""
import argparse
import contextlib
import importlib
import io
import json
import os
import re
import sys
import types

EXPECTED = [
    ('IST-DASLab/gptq/gptq.py', 'IST-DASLab/gptq'),
    ('IST-DASLab/gptq/quant.py', 'IST-DASLab/gptq'),
    ('IST-DASLab/sparsegpt/sparsegpt.py', 'IST-DASLab/sparsegpt'),
    ('IST-DASLab/sparsegpt/quant.py', 'IST-DASLab/sparsegpt'),
    ('locuslab/wanda/lib/prune.py', 'locuslab/wanda'),
    ('locuslab/wanda/lib/layerwrapper.py', 'locuslab/wanda'),
]


def fail(message):
    sys.stderr.write(f'reference_layer.py: {message}\n')
    sys.exit(2)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--reference', default=os.environ.get('LLMC_REFERENCE'), help='folder with the reference repositories (or LLMC_REFERENCE)')
    ap.add_argument('--check', action='store_true', help='import everything, print versions, exit')
    ap.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: leave)')
    return ap.parse_args()


args = parse_args()
if not args.reference:
    fail('no reference folder: pass --reference DIR (or set LLMC_REFERENCE)')
REF = os.path.abspath(args.reference)
missing = [p for p, _ in EXPECTED if not os.path.isfile(os.path.join(REF, p))]
if missing:
    fail(f'{REF} lacks ' + ', '.join(missing) + ' (the authors\' files: github.com/IST-DASLab/gptq gptq.py + quant.py, '
         'IST-DASLab/sparsegpt sparsegpt.py + quant.py, locuslab/wanda lib/prune.py + lib/layerwrapper.py)')
try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:
    fail(f'{e}: this driver needs PyTorch and NumPy (a CPU build is enough), e.g. python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch numpy')

if args.threads > 0:
    torch.set_num_threads(args.threads)

# ---- shims for a CPU-only environment without transformers (the reference code stays as it is) ----
try:
    import transformers  # noqa: F401
except ImportError:
    stub = types.ModuleType('transformers')

    class Conv1D(nn.Module):  # only used in isinstance checks by gptq.py / sparsegpt.py
        pass

    stub.Conv1D = Conv1D
    sys.modules['transformers'] = stub
if not torch.cuda.is_available():
    torch.cuda.synchronize = lambda *a, **k: None  # fasterquant / fasterprune call it after the loop
    torch.Tensor.cuda = lambda self, *a, **k: self  # prune_magnitude sorts on .cuda()


def load_repo(folder, module):
    """Imports `module` from `folder` with that folder's own quant.py (both repositories have one)."""
    sys.modules.pop('quant', None)
    sys.path.insert(0, folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # quant.py prints when quant_cuda is missing
            mod = importlib.import_module(module)
        return mod
    finally:
        sys.path.remove(folder)
        sys.modules.pop('quant', None)


gptq_mod = load_repo(os.path.join(REF, 'IST-DASLab/gptq'), 'gptq')
sparsegpt_mod = load_repo(os.path.join(REF, 'IST-DASLab/sparsegpt'), 'sparsegpt')

# Wanda: lib/prune.py imports .data (C4 via `datasets`), .ablate and .sparsegpt, none of which
# prune_wanda / prune_magnitude use; they are stubbed, and get_loaders hands back our tokens.
_wanda_batches = []
for sub, attrs in (('data', {'get_loaders': lambda *a, **k: (list(_wanda_batches), None)}), ('ablate', {'AblateGPT': None}), ('sparsegpt', {'SparseGPT': None})):
    m = types.ModuleType(f'lib.{sub}')
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[f'lib.{sub}'] = m
sys.path.insert(0, os.path.join(REF, 'locuslab/wanda'))
try:
    wanda_prune = importlib.import_module('lib.prune')
finally:
    sys.path.pop(0)

if args.check:
    print(json.dumps({'torch': torch.__version__, 'numpy': np.__version__, 'reference': REF,
                      'modules': {'gptq': gptq_mod.__file__, 'sparsegpt': sparsegpt_mod.__file__, 'wanda': wanda_prune.__file__}}))
    sys.exit(0)


# ---- one layer ----
def read(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype='<f4').reshape(shape).copy())


def write(path, t):
    t.detach().to(torch.float32).contiguous().numpy().astype('<f4').tofile(path)


def linear(W):
    layer = nn.Linear(W.shape[1], W.shape[0], bias=False)
    layer.weight.data = W.clone()
    return layer


def quantizer(cls, bits):
    q = cls()
    q.configure(bits, perchannel=True, sym=True, mse=False)
    return q


def reported_error(text):
    m = re.findall(r'^error (\S+)$', text, flags=re.M)
    return float(m[-1]) if m else None


def run_gptq(req, W, H):
    layer = linear(W)
    g = gptq_mod.GPTQ(layer)
    g.H = H  # H = 2/n·Σ x·xᵀ, what add_batch would have accumulated from the same inputs
    g.nsamples = req['nsamples']
    g.quantizer = quantizer(gptq_mod.Quantizer, req['bits'])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        g.fasterquant(blocksize=req.get('blocksize', 128), percdamp=req.get('damp', 0.01), groupsize=req['groupsize'], actorder=False)
    return layer.weight.data, reported_error(out.getvalue())


def run_rtn(req, W):
    # The GPTQ repository's round-to-nearest baseline (--nearest): Quantizer.find_params on the
    # weight, then quantize(). With groups, the same on each slice of `groupsize` columns.
    Q = torch.empty_like(W)
    g = req['groupsize']
    step = W.shape[1] if g == -1 else g
    for i in range(0, W.shape[1], step):
        q = quantizer(gptq_mod.Quantizer, req['bits'])
        q.find_params(W[:, i:i + step], weight=True)
        Q[:, i:i + step] = gptq_mod.quantize(W[:, i:i + step], q.scale, q.zero, q.maxq)
    return Q, None


def run_sparsegpt(req, W, H):
    layer = linear(W)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # SparseGPT.__init__ prints the layer
        s = sparsegpt_mod.SparseGPT(layer)
        s.H = H
        s.nsamples = req['nsamples']
        if req.get('bits', 0):
            s.quantizer = quantizer(sparsegpt_mod.Quantizer, req['bits'])  # per channel: fasterprune has no groups
        s.fasterprune(req['sparsity'], prunen=req.get('prunen', 0), prunem=req.get('prunem', 0), blocksize=req.get('blocksize', 128), percdamp=req.get('damp', 0.01))
    return layer.weight.data, reported_error(out.getvalue())


class _Block(nn.Module):
    """A decoder layer with one linear: Wanda's loops call it as layer(x, attention_mask=, position_ids=)[0]."""

    def __init__(self, lin):
        super().__init__()
        self.lin = lin

    def forward(self, x, attention_mask=None, position_ids=None):
        self.lin(x)  # the forward hook records the input
        return (x.reshape(-1, x.shape[-1]),)


class _Model(nn.Module):
    """What prune_wanda / prune_magnitude read: model.model.layers, seqlen, config, hf_device_map."""

    def __init__(self, lin):
        super().__init__()
        self.model = nn.Module()
        self.model.layers = nn.ModuleList([_Block(lin)])
        self.seqlen = 1
        self.config = types.SimpleNamespace(use_cache=False, hidden_size=lin.in_features)
        self.hf_device_map = {}

    def forward(self, x):
        return self.model.layers[0](x, attention_mask=None, position_ids=None)


def prune_args(req):
    return types.SimpleNamespace(sparsity_ratio=req['sparsity'], nsamples=1, seed=0, use_variant=False)


def run_wanda(req, W, H):
    layer = linear(W)
    model = _Model(layer)
    token = torch.sqrt(torch.clamp(torch.diagonal(H).double() / 2, min=0)).float().reshape(1, -1)
    _wanda_batches[:] = [(token,)]
    with contextlib.redirect_stdout(io.StringIO()):
        wanda_prune.prune_wanda(prune_args(req), model, None, device=torch.device('cpu'), prune_n=req.get('prunen', 0), prune_m=req.get('prunem', 0))
    return layer.weight.data, None


def run_magnitude(req, W):
    layer = linear(W)
    model = _Model(layer)
    wanda_prune.prune_magnitude(prune_args(req), model, None, device=torch.device('cpu'), prune_n=req.get('prunen', 0), prune_m=req.get('prunem', 0))
    return layer.weight.data, None


def loss(req):
    r, c = req['rows'], req['cols']
    W = read(req['w'], (r, c)).double()
    Q = read(req['wq'], (r, c)).double()
    H = read(req['h'], (c, c)).double()
    D = W - Q
    plain = 0.5 * float(torch.sum((D @ H) * D))
    Hd = H + req.get('damp', 0.01) * torch.mean(torch.diagonal(H)) * torch.eye(c, dtype=torch.float64)
    damped = 0.5 * float(torch.sum((D @ Hd) * D))
    return {'ok': True, 'loss': plain, 'lossDamped': damped}


def handle(req):
    op = req['op']
    if op == 'loss':
        return loss(req)
    r, c = req['rows'], req['cols']
    W = read(req['w'], (r, c))
    H = read(req['h'], (c, c)) if 'h' in req else None
    with torch.no_grad():
        if op == 'gptq':
            Q, err = run_gptq(req, W, H)
        elif op == 'rtn':
            Q, err = run_rtn(req, W)
        elif op == 'sparsegpt':
            Q, err = run_sparsegpt(req, W, H)
        elif op == 'wanda':
            Q, err = run_wanda(req, W, H)
        elif op == 'magnitude':
            Q, err = run_magnitude(req, W)
        else:
            raise ValueError(f'unknown op {op!r}')
    write(req['out'], Q)
    return {'ok': True, 'error': err}


def main():
    answer = sys.stdout
    sys.stdout = sys.stderr  # anything else the reference prints goes to stderr, not into the protocol
    answer.write(json.dumps({'ok': True, 'ready': True, 'torch': torch.__version__}) + '\n')
    answer.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            res = handle(json.loads(line))
        except Exception as e:  # report, keep serving
            res = {'ok': False, 'message': f'{type(e).__name__}: {e}'}
        answer.write(json.dumps(res) + '\n')
        answer.flush()


main()
