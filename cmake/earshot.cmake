# Per-architecture flags for the engine (included by the root CMakeLists.txt right after the
# earshot_engine target). Flags go on targets and source files, not CMAKE_CXX_FLAGS, which cmake-js
# replaces.
set(EARSHOT_ENGINE_DIR ${CMAKE_SOURCE_DIR}/native/engine)

# The same float arithmetic on every architecture: no silent a*b+c -> fma contraction (aarch64 would
# otherwise fuse where x86 does not). Kernels that want FMA use intrinsics.
target_compile_options(earshot_engine PRIVATE -ffp-contract=off)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86)$")
  # Only this file may use AVX2; quant.cpp calls it after checking the CPU.
  set_source_files_properties(${EARSHOT_ENGINE_DIR}/quant_avx2.cpp PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
  set_source_files_properties(${EARSHOT_ENGINE_DIR}/quant_avx512vnni.cpp PROPERTIES COMPILE_OPTIONS
    "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512vl;-mavx512bw;-mavx512vnni")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  # One arm64 build for Cortex-A72 and A76: only this file may use the dot product instructions.
  set_source_files_properties(${EARSHOT_ENGINE_DIR}/quant_neon_dotprod.cpp PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  # armhf: Debian's default is VFPv3-D16 without NEON; Earshot's 32-bit target is armv7 with NEON.
  # -mfp16-format=ieee enables the NEON half-float conversions (F16 weights, Q4_0/Q8_0 scales).
  target_compile_options(earshot_engine PUBLIC -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard -mfp16-format=ieee)
endif()

# Hardening for everything linked here (the addon included): fortified libc calls, full RELRO.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND CMAKE_BUILD_TYPE MATCHES "Release|RelWithDebInfo")
  target_compile_definitions(earshot_engine PUBLIC _FORTIFY_SOURCE=2)
  add_link_options(-Wl,-z,relro,-z,now)
endif()

option(EARSHOT_BENCH "Build the kernel benchmark" OFF)
if(EARSHOT_BENCH)
  add_executable(kernels_bench ${CMAKE_SOURCE_DIR}/bench/kernels_bench.cpp)
  target_link_libraries(kernels_bench PRIVATE earshot_engine)
endif()
