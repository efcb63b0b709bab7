// The "avx2" family compiled again for CPUs with AVX-512 VNNI (+VL, BW): the same code and the same
// results, with vpdpbusd for the int8 dot products, 32 vector registers for wider tiles and packed
// Q4_0 tiles of 16 rows in 512-bit vectors.
// This file alone is compiled with -mavx512vnni -mavx512vl -mavx512bw (cmake/earshot.cmake) and runs
// only after quant.cpp has checked the CPU.
#if defined(__x86_64__) || defined(__i386__)
#define EARSHOT_VNNI 1
#include "quant_avx2.cpp"
#endif
