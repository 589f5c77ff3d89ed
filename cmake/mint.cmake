# Shared helpers for Mint targets.

set(MINT_SHARED_DIR "${CMAKE_SOURCE_DIR}/../shared" CACHE PATH "Directory with shared models and reference data")

# Compile flags for per-ISA kernel variants, selected by file suffix. Only these files may use
# the wider instruction sets; everything else is baseline x86-64.
set(MINT_FLAGS_AVX2 "-mavx2 -mfma -mf16c")
set(MINT_FLAGS_AVX512 "-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16")

# mint_isa_sources(<sources...>): sets per-file ISA flags for *_avx2.cpp and *_avx512.cpp.
function(mint_isa_sources)
  foreach(src ${ARGN})
    if(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_FLAGS "${MINT_FLAGS_AVX512}")
    elseif(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_FLAGS "${MINT_FLAGS_AVX2}")
    endif()
  endforeach()
endfunction()

# mint_test(<name> SOURCES ... LIBS ... [LABELS ...]): a GoogleTest executable registered with ctest.
# SERIAL: gtest names (or patterns) that measure wall-clock timing; ctest runs them with no other
# test beside them (RUN_SERIAL), the rest in parallel as usual.
function(mint_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;SERIAL" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE MINT_SHARED_DIR="${MINT_SHARED_DIR}"
                             MINT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  if(T_SERIAL)
    string(JOIN ":" serial ${T_SERIAL})
    gtest_discover_tests(${name} TEST_FILTER "-${serial}"
                         PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
    gtest_discover_tests(${name} TEST_FILTER "${serial}"
                         PROPERTIES LABELS "${T_LABELS}" RUN_SERIAL TRUE DISCOVERY_TIMEOUT 60)
  else()
    gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
