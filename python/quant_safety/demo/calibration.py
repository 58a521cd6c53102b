"""Calibration targets of the demo generator and the solvers that turn them into
exact per-cell integer plans.

`calibration.csv` (next to this file) is a verbatim copy of the reference
`published_cells.csv` (51 cells). Values that the reference leaves blank are
filled from `FILLS` below (each documented in README.md). Nothing here reads
outside the package at run time.
"""
from __future__ import annotations

import bisect
import csv
import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

CALIBRATION_CSV = Path(__file__).with_name("calibration.csv")

GGUF_QUANTS = ["FP16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_S", "Q2_K"]
QUANT_ORDER = GGUF_QUANTS + ["AWQ", "GPTQ"]
MODELS = ["llama3.2-1b", "llama3.2-3b", "mistral-7b", "phi-2", "qwen2.5-1.5b", "qwen2.5-7b"]

# ---------------------------------------------------------------- fills for blanks
FILLS = {
    # quality: (bertscore delta pp vs baseline | None = use published 3dp value, rouge_l, coherence)
    ("mistral-7b", "AWQ"): {"rouge_l": 0.372, "coherence": 0.676},
    ("mistral-7b", "GPTQ"): {"rouge_l": 0.383, "coherence": 0.679},
    ("qwen2.5-7b", "AWQ"): {"bertscore_delta_pp": -8.80, "rouge_l": 0.478, "coherence": 0.684,
                            "judge_refusal_rate": 202 / 220},
    ("qwen2.5-7b", "GPTQ"): {"bertscore_delta_pp": -6.92, "rouge_l": 0.489, "coherence": 0.691,
                             "judge_refusal_rate": 194 / 220},
}
# Judge truthfulness / bias where unpublished: published judge values sit well below the
# regex ones (e.g. phi-2 FP16 bias 0.604 vs regex 0.848), so blanks use regex minus an offset.
JUDGE_TRUTH_OFFSET = 0.12
JUDGE_BIAS_OFFSET = 0.24

# capability accuracy (MMLU, ARC) of the model at FP16/Q8_0, and per-quant multipliers
CAPABILITY_BASE = {
    "llama3.2-1b": (0.45, 0.52), "llama3.2-3b": (0.58, 0.70), "mistral-7b": (0.60, 0.74),
    "phi-2": (0.55, 0.72), "qwen2.5-1.5b": (0.59, 0.71), "qwen2.5-7b": (0.70, 0.80),
    "llama3.1-8b": (0.66, 0.79),
}
CAPABILITY_MULT = {"FP16": 1.0, "Q8_0": 1.0, "Q6_K": 0.995, "Q5_K_M": 0.99, "Q4_K_M": 0.975,
                   "Q3_K_S": 0.93, "Q2_K": 0.80, "AWQ": 0.965, "GPTQ": 0.955}

# out-of-scope llama3.1-8b cells of tr125_phase2_legacy (Q3_K_S omitted)
LLAMA31_QUANTS = ["FP16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q2_K"]
LLAMA31_QUALITY = {"FP16": (0.781, 0.492, 0.702), "Q8_0": (0.780, 0.491, 0.701),
                   "Q6_K": (0.779, 0.490, 0.700), "Q5_K_M": (0.777, 0.486, 0.698),
                   "Q4_K_M": (0.772, 0.481, 0.694), "Q2_K": (0.731, 0.433, 0.655)}

MIN_REFUSAL_TOKENS = 16  # longest refusal opening has 13 whitespace tokens


def stable_u(*parts) -> float:
    """Deterministic uniform(0,1) from a key (independent of the generation seed)."""
    h = zlib.crc32("|".join(map(str, parts)).encode())
    return (h % 1_000_003) / 1_000_003


def _f(x):
    return None if x in ("", None) else float(x)


@lru_cache(maxsize=1)
def load_published() -> dict:
    rows = {}
    with open(CALIBRATION_CSV, newline="") as fh:
        for r in csv.DictReader(fh):
            rows[(r["base_model"], r["quant"])] = r
    return rows


# ---------------------------------------------------------------- plans
@dataclass
class JudgeSpec:
    n_unclear: int          # UNCLEAR/ERROR rows among the 220 refusal rows
    k: int                  # refusal rows (FULL+PARTIAL) among 220 - n_unclear


@dataclass
class CellPlan:
    base: str
    quant: str
    family: str
    fmt: str
    baseline_quant: str
    quality: dict                       # metric -> full precision target mean
    adv_k: int                          # advbench regex refusals (of 100)
    jb_k: int                           # jailbreak regex refusals (of 120)
    truth_halves: int                   # 2 * sum of truthfulness scores (of 50 rows)
    bias_k2: int                        # 2 * sum of bias scores (of 198 rows)
    mmlu_k: int
    arc_k: int
    judge: JudgeSpec | None = None      # main judge (gemma3 or v3)
    judge_legacy: JudgeSpec | None = None
    judge_truth: tuple | None = None    # (n_unclear, k TRUTHFUL)
    judge_bias: tuple | None = None     # (n_unclear, k UNBIASED) or None (no main-schema bbq rows)
    prefix_counts: list = field(default_factory=list)   # refusal prefix group sizes, desc
    token_total: int = 0                # sum of whitespace tokens over refusals
    targets: dict = field(default_factory=dict)         # calibration values used (for reports)

    @property
    def is_baseline(self) -> bool:
        return self.quant == self.baseline_quant


def _nearest_k(v: float, n: int) -> int:
    return int(math.floor(v * n + 0.5))


def _ratio_spec(v: float, n_max: int, max_unclear: int, exact_tol: float | None, key) -> tuple:
    """(n_unclear, k) with k/(n_max-u) nearest to v. If exact_tol is given (value published at
    3dp), prefer the smallest u with |k/n - v| <= tol; else use a small keyed u."""
    if exact_tol is not None:
        for u in range(0, max_unclear + 1):
            n = n_max - u
            k = _nearest_k(v, n)
            if abs(k / n - v) <= exact_tol:
                return u, k
    u = int(stable_u("unclear", *key) * 3)
    n = n_max - u
    return u, _nearest_k(v, n)


# ---------------------------------------------------------------- quality solver
def solve_bertscore(base_row, cells) -> dict:
    """cells: list of (quant, published_3dp | None, delta_pp). Returns quant -> target mean."""
    pb = float(base_row)
    best = None
    steps = 2000
    for i in range(1, steps):
        tb = pb - 0.0005 + i * (0.001 / steps)
        if abs(tb - pb) > 0.0005 - 2e-6:
            continue
        worst = 0.0
        out = {}
        for q, p, d in cells:
            t = tb + d / 100.0
            if p is not None:
                lo, hi = p - 0.0005 + 2e-6, p + 0.0005 - 2e-6
                t = min(max(t, lo), hi)
            out[q] = t
            worst = max(worst, abs((t - tb) * 100 - d))
        score = (round(worst, 6), abs(tb - pb))
        if best is None or score < best[0]:
            best = (score, tb, out)
    _, tb, out = best
    return tb, out


# ---------------------------------------------------------------- phase 6 solver
def _entropy_norm(counts) -> float:
    k = len(counts)
    if k <= 1:
        return 0.0
    r = sum(counts)
    return -sum((c / r) * math.log(c / r) for c in counts) / math.log(k)


def _partitions(total, parts, cap, limit):
    """Non-increasing partitions of `total` into `parts` parts each in [1, cap]."""
    out = []

    def rec(rem, k, mx, acc):
        if len(out) > limit:
            return
        if k == 0:
            if rem == 0:
                out.append(tuple(acc))
            return
        if rem < k or rem > k * mx:
            return
        for v in range(min(mx, rem - (k - 1)), 0, -1):
            if v * k < rem:
                break
            acc.append(v)
            rec(rem - v, k - 1, v, acc)
            acc.pop()

    rec(total, parts, cap, [])
    return out if len(out) <= limit else None


def _extreme_vectors(r, k, m):
    rest, slots = r - m, k - 1
    if slots == 0:
        return [m], [m]
    lo = [1] * slots
    extra = rest - slots
    for i in range(slots):
        add = min(m - 1, extra)
        lo[i] += add
        extra -= add
    q, rem = divmod(rest, slots)
    hi = [q + 1] * rem + [q] * (slots - rem)
    return [m] + lo, [m] + hi


def _climb(r, k, m, target):
    """Greedy unit moves between the non-top groups to approach the target entropy."""
    lo, hi = _extreme_vectors(r, k, m)
    best = min((lo, hi), key=lambda v: abs(_entropy_norm(v) - target))
    v = list(best)
    cur = _entropy_norm(v)
    logk = math.log(k)
    for _ in range(10 * r):
        rest = v[1:]
        vals = sorted(set(rest))
        best_move, best_err = None, abs(cur - target)
        for a in vals:              # take one unit from a group of size a
            if a <= 1:
                continue
            for b in vals:          # give it to a group of size b
                if b + 1 > m or (a == b and rest.count(a) < 2):
                    continue
                # entropy change
                def t(c):
                    return -(c / r) * math.log(c / r) if c > 0 else 0.0
                dh = (t(a - 1) + t(b + 1) - t(a) - t(b)) / logk
                err = abs(cur + dh - target)
                if err < best_err - 1e-12:
                    best_err, best_move = err, (a, b, cur + dh)
        if best_move is None:
            break
        a, b, cur = best_move
        i = rest.index(a)
        rest[i] -= 1
        j = next(idx for idx, x in enumerate(rest) if x == b and idx != i)
        rest[j] += 1
        v = [m] + sorted(rest, reverse=True)
    return sorted(v, reverse=True)


class _EntropySpace:
    def __init__(self, r, k, m):
        self.r, self.k, self.m = r, k, m
        if k <= 1:
            self.exact = [(0.0, (r,))]
            self._vals = [0.0]
            return
        parts = _partitions(r - m, k - 1, m, 4000)
        if parts is None:
            self.exact = None
            lo, hi = _extreme_vectors(r, k, m)
            self.lo, self.hi = sorted((_entropy_norm(lo), _entropy_norm(hi)))
        else:
            self.exact = sorted((_entropy_norm((m,) + p), (m,) + p) for p in parts)
        self._vals = [e for e, _ in self.exact] if self.exact is not None else None

    def dist(self, h):
        if self.exact is not None:
            vals = self._vals
            i = bisect.bisect_left(vals, h)
            best = float("inf")
            if i < len(vals):
                best = vals[i] - h
            if i > 0:
                best = min(best, h - vals[i - 1])
            return best
        if h < self.lo:
            return self.lo - h
        if h > self.hi:
            return h - self.hi
        return 0.0

    def values(self):
        return [e for e, _ in self.exact] if self.exact is not None else [self.lo, self.hi]

    def vector(self, h):
        if self.exact is not None:
            return list(min(self.exact, key=lambda ev: abs(ev[0] - h))[1])
        return _climb(self.r, self.k, self.m, h)


def solve_phase6(r0: int, cells: list) -> dict:
    """cells: list of (quant, R, d_dom, d_unique, d_entropy, d_tokens).
    Returns {'baseline': (counts, token_total), quant: (counts, token_total)}."""
    # 1. dominant count k0 and distinct count m0 of the baseline
    best = None
    for m0 in range(1, r0 + 1):
        for k0 in range(max(1, -(-r0 // m0)), r0 - m0 + 2):
            if m0 == 1 and k0 != r0:
                continue
            worst = 0.0
            ok = True
            for _, r, dd, du, _, _ in cells:
                d = k0 / r0 + dd
                u = m0 / r0 + du
                kc = min(max(_nearest_k(d, r), 1), r)
                mc = min(max(_nearest_k(u, r), 1), r)
                if kc * mc < r or kc + mc - 1 > r or (mc == 1 and kc != r):
                    ok = False
                    break
                worst = max(worst, abs(kc / r - d), abs(mc / r - u))
            if not ok:
                continue
            score = (round(worst, 9), abs(k0 / r0 - 0.6))
            if best is None or score < best[0]:
                best = (score, k0, m0)
    _, k0, m0 = best
    shapes = {"baseline": (r0, m0, k0, 0.0)}
    for q, r, dd, du, de, _ in cells:
        kc = min(max(_nearest_k(k0 / r0 + dd, r), 1), r)
        mc = min(max(_nearest_k(m0 / r0 + du, r), 1), r)
        shapes[q] = (r, mc, kc, de)
    spaces = {q: _EntropySpace(r, k, m) for q, (r, k, m, _) in shapes.items()}
    # 2. baseline entropy e0 that keeps every cell reachable
    cand = set()
    for q, sp in spaces.items():
        de = shapes[q][3]
        for e in sp.values():
            cand.add(e - de)
    base_sp = spaces["baseline"]
    if base_sp.exact is None:
        n = 400
        for i in range(n + 1):
            cand.add(base_sp.lo + (base_sp.hi - base_sp.lo) * i / n)
    best_e, best_cost = None, None
    for e in sorted(cand):
        cost = max(sp.dist(e + shapes[q][3]) for q, sp in spaces.items())
        if best_cost is None or cost < best_cost - 1e-12:
            best_e, best_cost = e, cost
    base_vec = base_sp.vector(best_e)
    e0 = _entropy_norm(base_vec)
    out = {"baseline": base_vec}
    for q, sp in spaces.items():
        if q != "baseline":
            out[q] = sp.vector(e0 + shapes[q][3])
    # 3. token totals
    lo_t = max([MIN_REFUSAL_TOKENS] + [MIN_REFUSAL_TOKENS - c[5] for c in cells])
    best = None
    for s0 in range(int(math.ceil(lo_t * r0)), int((lo_t + 90) * r0)):
        t0 = s0 / r0
        worst = 0.0
        for _, r, _, _, _, dt in cells:
            t = t0 + dt
            worst = max(worst, abs(_nearest_k(t * r, 1) / r - t))
        score = (round(worst, 9), abs(t0 - (lo_t + 22)))
        if best is None or score < best[0]:
            best = (score, s0)
    s0 = best[1]
    res = {"baseline": (out["baseline"], s0)}
    for q, r, _, _, _, dt in cells:
        res[q] = (out[q], _nearest_k((s0 / r0 + dt) * r, 1))
    return res


# ---------------------------------------------------------------- judge refusal solver
# Published judge deltas (pp, 2 dp) are reproduced exactly where the k/n grid allows it.
# n = 220 - (UNCLEAR/ERROR rows among the 220 refusal-task judge rows).
JUDGE_MAX_UNCLEAR = 6
# contract §8 [I]: qwen2.5-1.5b Q2_K published 0.829 = 170/205 (15 unusable judge rows)
JUDGE_MAX_UNCLEAR_CELL = {("qwen2.5-1.5b", "Q2_K"): 15}
JUDGE_RATE_MAX_DEV = 0.005          # precedence-mode judge rate within 0.5 pp of the published one
JUDGE_LEGACY_RATE_MAX_DEV = 0.01    # the legacy Qwen judge of the 7B GGUF cells: within 1 pp
_RATE_TOL = JUDGE_RATE_MAX_DEV
_ROUND_MARGIN = 1e-6       # stay clear of the .xx5 rounding boundary (numpy/python/SQL agree)


def _delta_err(rate, base, d):
    """0 if round(100*(rate-base), 2) == d with a safety margin, else the distance in pp."""
    x = 100.0 * (rate - base)
    e = abs(x - d)
    return 0.0 if e <= 0.005 - _ROUND_MARGIN else e


def _grid(r, nmin, tol=None):
    tol = _RATE_TOL if tol is None else tol
    out = []
    for n in range(nmin, 221):
        for k in range(max(0, math.floor((r - tol) * n)), min(n, math.ceil((r + tol) * n)) + 1):
            if abs(k / n - r) <= tol + 1e-12:
                out.append((k, n))
    return out


def _pick(opts, r, upref):
    """opts: (err, k, n). Smallest delta error, then closest rate, then unclear near upref."""
    return min(opts, key=lambda o: (round(o[0], 9), round(abs(o[1] / o[2] - r), 9),
                                    abs((220 - o[2]) - upref), o[2]))


def _upref(model, q):
    return [0, 0, 1, 2, 0, 3][int(stable_u("ju", model, q) * 6)]


def solve_judge_refusal(model, r0, bq, cells):
    """cells: list of (quant, rate, delta_pp | None, two_judges). Returns
    {quant: (main JudgeSpec, legacy JudgeSpec | None)} for the baseline and every cell.
    Main (precedence) judge: baseline k0/n0 and cell k/n chosen so that every published delta
    rounds exactly, else with the smallest error; then rates closest to the published ones.
    Legacy judge (7B GGUF cells, pool mode): chosen so that the pooled deltas round exactly."""
    def nmin(q):
        return 220 - JUDGE_MAX_UNCLEAR_CELL.get((model, q), JUDGE_MAX_UNCLEAR)

    grids = {q: _grid(r, nmin(q)) for q, r, d, _ in cells if d is not None}

    def main_for(b):
        ch, worst_e, worst_r = {}, 0.0, 0.0
        for q, r, d, _ in cells:
            if d is None:
                continue
            opts = [(_delta_err(k / n, b, d), k, n) for k, n in grids[q]]
            o = _pick(opts, r, _upref(model, q))
            ch[q] = o
            worst_e, worst_r = max(worst_e, o[0]), max(worst_r, abs(o[1] / o[2] - r))
        return (round(worst_e, 9), round(max(worst_r, abs(b - r0)), 9)), ch

    base_opts = []
    for k0, n0 in _grid(r0, nmin(bq)):
        score, ch = main_for(k0 / n0)
        base_opts.append((score + (abs((220 - n0) - _upref(model, bq)),), (k0, n0), ch))
    base_opts.sort(key=lambda x: x[0])
    two = any(t for _, _, _, t in cells)
    out = {}
    if not two:
        _, (k0, n0), ch = base_opts[0]
        out[bq] = (JudgeSpec(220 - n0, k0), None)
        for q, (_, k, n) in ch.items():
            out[q] = (JudgeSpec(220 - n, k), None)
    else:
        best = None
        best_main = base_opts[0][0][0]
        for score, (k0, n0), ch in base_opts:
            if score[0] > best_main:          # keep the best precedence error
                break
            res = _solve_pool(model, r0, bq, cells, (k0, n0), ch, grids, nmin)
            if res is None:
                continue
            key = (res[0], score)
            if best is None or key < best[0]:
                best = (key, (k0, n0), res[1], res[2])
        assert best is not None, model
        _, (k0, n0), main_ch, leg = best
        out[bq] = (JudgeSpec(220 - n0, k0), JudgeSpec(220 - leg[bq][1], leg[bq][0]))
        for q, (_, k, n) in main_ch.items():
            lg = leg.get(q)
            out[q] = (JudgeSpec(220 - n, k), None if lg is None else JudgeSpec(220 - lg[1], lg[0]))
    for q, r, d, _ in cells:              # no published delta (documented fills): nearest k/n
        if d is None:
            u = _upref(model, q) if r < 1 else 0
            if abs(r * 220 - round(r * 220)) < 1e-9:
                u = 0
            out[q] = (JudgeSpec(u, _nearest_k(r, 220 - u)), None)
    return out


def _solve_pool(model, r0, bq, cells, base_main, main_ch, grids, nmin):
    """Legacy specs (baseline + two-judge cells) so that pooled deltas round exactly.
    Two-judge cells may re-pick their main spec among options with no larger precedence error;
    single-judge cells are re-picked among options exact (or as good) for both baselines.
    Returns (score, main choices, legacy choices) or None."""
    k0g, n0g = base_main
    bmain = k0g / n0g
    two = {q for q, _, _, t in cells if t}
    lgrid0 = _grid(r0, nmin(bq), JUDGE_LEGACY_RATE_MAX_DEV)
    pooled = {}
    for q, r, d, t in cells:
        if d is None or not t:
            continue
        eb = main_ch[q][0]
        if eb > 0:      # already inexact in precedence mode: anything up to the model's worst error
            eb = max(o[0] for o in main_ch.values())
        mains = [(k, n) for k, n in grids[q] if _delta_err(k / n, bmain, d) <= eb + 1e-9]
        opts = []
        for k, n in mains:
            em = _delta_err(k / n, bmain, d)
            for kl, nl in _grid(r, nmin(q), JUDGE_LEGACY_RATE_MAX_DEV):
                pr = (k + kl) / (n + nl)
                cost = (round(em, 9), round(max(abs(k / n - r), abs(kl / nl - r)), 9),
                        abs((220 - nl) - _upref(model, "leg" + q)), -nl)
                opts.append((pr, cost, (em, k, n), (kl, nl)))
        opts.sort(key=lambda o: o[0])
        pooled[q] = ([o[0] for o in opts], opts)
    best = None
    for k0l, n0l in lgrid0:
        p0 = (k0g + k0l) / (n0g + n0l)
        main, leg = dict(main_ch), {bq: (k0l, n0l)}
        worst_e, worst_r = 0.0, abs(k0l / n0l - r0)
        ok = True
        for q, r, d, _t in cells:
            if d is None:
                continue
            if q in two:
                keys, opts = pooled[q]
                lo = bisect.bisect_left(keys, p0 + (d - 0.006) / 100)
                hi = bisect.bisect_right(keys, p0 + (d + 0.006) / 100)
                cand = [(_delta_err(o[0], p0, d), o[1], o) for o in opts[lo:hi]]
                cand = [c for c in cand if c[0] == 0.0]
                if not cand:
                    # no exact pooled option: fall back to the current main + nearest legacy
                    _, kg, ng = main_ch[q]
                    alt = [(_delta_err((kg + kl) / (ng + nl), p0, d), kl, nl)
                           for kl, nl in _grid(r, nmin(q), JUDGE_LEGACY_RATE_MAX_DEV)]
                    o = _pick(alt, r, _upref(model, "leg" + q))
                    leg[q] = (o[1], o[2])
                    worst_e = max(worst_e, o[0])
                    worst_r = max(worst_r, abs(o[1] / o[2] - r))
                    continue
                c = min(cand, key=lambda c: c[1])
                main[q] = c[2][2]
                leg[q] = c[2][3]
                worst_r = max(worst_r, c[1][1])
            else:
                eb = main_ch[q][0]
                opts = [(max(_delta_err(k / n, p0, d), e), e, k, n) for e, k, n in
                        ((_delta_err(k / n, bmain, d), k, n) for k, n in grids[q]) if e <= eb + 1e-9]
                if not opts:
                    ok = False
                    break
                o = min(opts, key=lambda o: (round(o[0], 9), round(abs(o[2] / o[3] - r), 9),
                                             abs((220 - o[3]) - _upref(model, q)), o[3]))
                main[q] = (o[1], o[2], o[3])
                worst_e = max(worst_e, o[0])
        if not ok:
            continue
        score = (round(worst_e, 9), round(worst_r, 9), abs(n0l - n0g))
        if best is None or score < best[0]:
            best = (score, main, leg)
    return best


# ---------------------------------------------------------------- build all plans
@lru_cache(maxsize=1)
def build_plans() -> dict:
    pub = load_published()
    plans: dict = {}
    for model in MODELS:
        rows = {q: r for (b, q), r in pub.items() if b == model}
        bq = next(iter(rows.values()))["baseline_quant"]
        # quality bertscore
        cells = []
        for q, r in rows.items():
            if q == bq:
                continue
            fill = FILLS.get((model, q), {})
            d = _f(r["published_bertscore_delta_pp"])
            if d is None:
                d = fill["bertscore_delta_pp"]
            cells.append((q, _f(r["quality_bertscore"]), d))
        tb, bert = solve_bertscore(rows[bq]["quality_bertscore"], cells)
        bert[bq] = tb
        # phase 6
        r0 = _nearest_k(float(rows[bq]["advbench_refusal_rate_n100"]) * 100, 1)
        p6cells = []
        for q, r in rows.items():
            if q == bq:
                continue
            p6cells.append((q, _nearest_k(float(r["advbench_refusal_rate_n100"]) * 100, 1),
                            float(r["dominant_prefix_share_delta"]), float(r["unique_prefix_rate_delta"]),
                            float(r["prefix_entropy_norm_delta"]), float(r["mean_tokens_refusal_delta"])))
        p6 = solve_phase6(r0, p6cells)
        p6[bq] = p6.pop("baseline")
        jcells = []
        r0 = float(rows[bq]["judge_refusal_rate"])
        for q, r in rows.items():
            if q == bq:
                continue
            jr, d = _f(r["judge_refusal_rate"]), _f(r["published_judge_refusal_delta_pp"])
            if jr is None:
                jr = FILLS[(model, q)]["judge_refusal_rate"]      # documented fill: no delta target
            elif d is None:
                d = round(100 * (jr - r0), 2)                      # e.g. mistral AWQ/GPTQ inferred rates
            jcells.append((q, jr, d, model in ("mistral-7b", "qwen2.5-7b") and q in GGUF_QUANTS))
        jspecs = solve_judge_refusal(model, r0, bq, jcells)
        for q, r in rows.items():
            fill = FILLS.get((model, q), {})
            qual = {"bertscore": bert[q]}
            for m in ("rouge_l", "coherence"):
                v = _f(r[f"quality_{m}"])
                qual[m] = v if v is not None else fill[m]
            regex_k = _nearest_k(float(r["regex_refusal_rate"]) * 220, 1)
            adv_k = _nearest_k(float(r["advbench_refusal_rate_n100"]) * 100, 1)
            truth_halves = _nearest_k(float(r["regex_truthfulness"]) * 100, 1)
            bias_k2 = 2 * _nearest_k(float(r["regex_bias_resistance"]) * 198, 1)
            mm, ar = CAPABILITY_BASE[model]
            mult = CAPABILITY_MULT[q]
            mmlu = mm * mult + (stable_u("mmlu", model, q) - 0.5) * 0.03
            arc = ar * mult + (stable_u("arc", model, q) - 0.5) * 0.03
            jr = _f(r["judge_refusal_rate"])
            if jr is None:
                jr = fill["judge_refusal_rate"]
            plan = CellPlan(
                base=model, quant=q, family=r["family"], fmt=r["format"], baseline_quant=bq,
                quality=qual, adv_k=adv_k, jb_k=regex_k - adv_k, truth_halves=truth_halves,
                bias_k2=bias_k2, mmlu_k=_nearest_k(mmlu * 285, 1), arc_k=_nearest_k(arc * 200, 1),
            )
            assert 0 <= plan.jb_k <= 120, (model, q)
            # judge refusal (solved per model above)
            plan.judge, plan.judge_legacy = jspecs[q]
            # judge truthfulness
            jt = _f(r["judge_truthfulness"])
            if jt is None:
                jt = round(max(0.04, float(r["regex_truthfulness"]) - JUDGE_TRUTH_OFFSET
                               + (stable_u("jt", model, q) - 0.5) * 0.04), 3)
                plan.judge_truth = _ratio_spec(jt, 50, 3, None, ("jt", model, q))
            else:
                plan.judge_truth = _ratio_spec(jt, 50, 25, 0.0005, ("jt", model, q))
            # judge bias: no main-schema bbq judge rows for the llama GGUF cells
            jb = _f(r["judge_bias_resistance"])
            if model.startswith("llama3.2") and q in GGUF_QUANTS:
                plan.judge_bias = None
            elif jb is None:
                jb = round(max(0.2, float(r["regex_bias_resistance"]) - JUDGE_BIAS_OFFSET
                               + (stable_u("jb", model, q) - 0.5) * 0.04), 3)
                plan.judge_bias = _ratio_spec(jb, 198, 4, None, ("jb", model, q))
            else:
                plan.judge_bias = _ratio_spec(jb, 198, 40, 0.0005, ("jb", model, q))
            plan.prefix_counts, plan.token_total = p6[q]
            assert sum(plan.prefix_counts) == adv_k, (model, q, plan.prefix_counts, adv_k)
            plan.targets = {"judge_refusal_rate": jr, "judge_truthfulness": jt,
                            "judge_bias_resistance": jb, "mmlu": mmlu, "arc": arc}
            plans[(model, q)] = plan
    return plans


def llama31_plans() -> list:
    out = []
    for q in LLAMA31_QUANTS:
        b, r, c = LLAMA31_QUALITY[q]
        mm, ar = CAPABILITY_BASE["llama3.1-8b"]
        out.append(
            CellPlan(
                base="llama3.1-8b",
                quant=q,
                family="Llama",
                fmt="GGUF",
                baseline_quant="FP16",
                quality={"bertscore": b + 0.0001, "rouge_l": r + 0.0001, "coherence": c + 0.0001},
                adv_k=0,
                jb_k=0,
                truth_halves=50,
                bias_k2=198,
                mmlu_k=_nearest_k(mm * CAPABILITY_MULT[q] * 285, 1),
                arc_k=_nearest_k(ar * CAPABILITY_MULT[q] * 200, 1),
            )
        )
    return out
