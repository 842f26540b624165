// obs_shared.h — what the OBS column loop (obs.cpp) and the baselines (baselines.cpp) share: the
// writer of llmc_obs_result and the selection of the smallest scores that every pruning mask uses.
// (The validated parameters are ObsConfig of obs_config.h; the quantizer is quantizer.h.)
//
// Outputs (rows = outputs, cols = inputs; row-major; each array may be NULL except weight):
//   weight [rows × cols] f32   compressed values (dequantized, 0 where pruned)
//   q      [rows × cols] s8    codes; symmetric codes are stored as code − (maxq + 1)/2
//   mask   [rows × cols] u8    1 = pruned
//   scale  [rows × G] f32, zero [rows × G] u8   quantization parameters of group t of row r
// The loop works on columns in act-order: position i of the working copy is original column
// perm[i], and put() writes it back at its original column.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "llmc.h"
#include "obs_config.h"
#include "quantizer.h"

namespace llmc {

// Index of the smallest `count` scores (ties to the lower index) set in `pruned`.
inline void mark_smallest(const float* score, int64_t len, int64_t count, uint8_t* pruned, std::vector<int64_t>& idx) {
  if (count <= 0) return;
  idx.resize(static_cast<size_t>(len));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  auto less = [&](int64_t a, int64_t b) { return score[a] < score[b] || (score[a] == score[b] && a < b); };
  if (count < len) std::nth_element(idx.begin(), idx.begin() + count, idx.end(), less);
  for (int64_t i = 0; i < std::min(count, len); ++i) pruned[idx[static_cast<size_t>(i)]] = 1;
}

struct Outputs {
  const ObsConfig& c;
  llmc_obs_result* out;
  std::vector<int32_t> perm;  // packed position -> original column (identity without act-order)
  // Writes the result for row r, position i (original column perm[i]).
  void put(int64_t r, int64_t i, float value, int code, bool pruned) const {
    const int64_t col = perm[static_cast<size_t>(i)];
    out->weight[r * c.cols + col] = value;
    if (out->q) out->q[r * c.cols + col] = static_cast<int8_t>(c.sym ? code - (c.maxq + 1) / 2 : code);
    if (out->mask) out->mask[r * c.cols + col] = pruned ? 1 : 0;
  }
  void put_params(int64_t r, int64_t t, const quant::Params& pr) const {
    if (out->scale) out->scale[r * c.groups + t] = pr.scale;
    if (out->zero) out->zero[r * c.groups + t] = static_cast<uint8_t>(pr.zero);
  }
};

}  // namespace llmc
