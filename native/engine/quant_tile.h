// Internal to the kernel files: the loop that walks a product's output in tiles, the same for every
// ISA and product. A kernel supplies `template <int M> void run(int64_t g, int64_t j) const`, which
// computes weight-row group g (8 packed rows, or one row) against activation rows j .. j+M-1
// (M <= MT); a group's weights are read once per MT activation rows while they are still in L1. Everything here has
// internal linkage, so each kernel file gets its own copy compiled with its own ISA flags.
#pragma once
#include <algorithm>
#include <cstdint>

#include "quant_kernels.h"

namespace earshot {
namespace tile {
namespace {

template <int MT, typename Tile, int M = MT>
inline void run_m(const Tile& t, int64_t g, int64_t j, int64_t m) {
  if constexpr (M > 1) {
    if (m < M) return run_m<MT, Tile, M - 1>(t, g, j, m);
  }
  t.template run<M>(g, j);
}

// Groups [g0, g1) against activation rows [0, n).
template <int MT, typename Tile>
inline void for_tiles(const Tile& t, int64_t g0, int64_t g1, int64_t n) {
  for (int64_t g = g0; g < g1; ++g)
    for (int64_t j = 0; j < n; j += MT) run_m<MT>(t, g, j, std::min<int64_t>(MT, n - j));
}

// Row-major weights, a group being one row: Row::row<M>(weight row r, len, activation rows j..,
// &y[j * ldy + r], ldy), where len is a row's length in weight and activation elements alike.
template <typename Row, typename WT, typename XT>
struct RowTile {
  const WT* w;
  int64_t len;
  const XT* x;
  float* y;
  int64_t ldy;
  template <int M>
  void run(int64_t r, int64_t j) const {
    Row::template row<M>(w + r * len, len, x + j * len, y + j * ldy + r, ldy);
  }
};

// Packed weights (groups of 8 rows, BlockQ4x8) against Q8 activation rows, into y[j * ldy + r] for
// r in [r0, r1). A kernel's tile derives from this and adds its run<M>.
struct PackedTile {
  const BlockQ4x8* w;
  int64_t nb;
  const BlockQ8x* x;
  float* y;
  int64_t ldy, r0, r1;

  // The `lanes` outputs of groups from g on, for activation row j: only rows inside [r0, r1).
  bool whole(int64_t g, int lanes) const { return r0 <= g * 8 && g * 8 + lanes <= r1; }
  void store_part(const float* t, int64_t g, int lanes, int64_t j) const {
    float* yj = y + j * ldy;
    for (int64_t r = std::max(r0, g * 8), z = std::min(r1, g * 8 + lanes); r < z; ++r) yj[r] = t[r - g * 8];
  }
};

template <int MT, typename Row, typename WT, typename XT>
inline void for_rows(const WT* w, int64_t len, const XT* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  for_tiles<MT>(RowTile<Row, WT, XT>{w, len, x, y, ldy}, r0, r1, n);
}

}  // namespace
}  // namespace tile
}  // namespace earshot
