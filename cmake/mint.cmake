# Shared helpers for Mint targets.

set(MINT_SHARED_DIR "${CMAKE_SOURCE_DIR}/../shared" CACHE PATH "Directory with shared models and reference data")

# Compile flags for per-ISA kernel variants, selected by file suffix. Only these files may use
# the wider instruction sets; everything else is baseline x86-64.
set(MINT_FLAGS_AVX2 "-mavx2 -mfma -mf16c")
set(MINT_FLAGS_AVX512 "-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16")

# mint_isa_sources(<sources...>): sets per-file ISA flags for *_avx2.cpp and *_avx512.cpp.
# These files stay out of unity builds: merged with plain files, their ISA flags would let the
# compiler use AVX-512 in code that must run on any x86-64.
function(mint_isa_sources)
  foreach(src ${ARGN})
    if(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_FLAGS "${MINT_FLAGS_AVX512}"
                                  SKIP_UNITY_BUILD_INCLUSION ON)
    elseif(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_FLAGS "${MINT_FLAGS_AVX2}"
                                  SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
  endforeach()
endfunction()

# mint_test(<name> SOURCES ... LIBS ... [LABELS ...] [TIMING ...]): a GoogleTest executable
# registered with ctest (label `unit` unless LABELS says otherwise).
# TIMING: gtest names (or patterns) of the tests that assert a wall-clock bound (a latency, a
# rate, "within N ms"). They carry the label `timing` instead, run alone (RUN_SERIAL: nothing
# else competes for the cores while they measure), and are registered only in unsanitized
# builds: under ASan/TSan every instruction is several times slower, so a bound that holds with
# margin in release says nothing there (`ctest --preset asan -L timing` selects nothing).
function(mint_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;TIMING" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE MINT_SHARED_DIR="${MINT_SHARED_DIR}"
                             MINT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  if(T_TIMING)
    string(JOIN ":" timing ${T_TIMING})
    gtest_discover_tests(${name} TEST_FILTER "-${timing}"
                         PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
    if(NOT MINT_SANITIZE)
      gtest_discover_tests(${name} TEST_FILTER "${timing}"
                           PROPERTIES LABELS timing RUN_SERIAL TRUE DISCOVERY_TIMEOUT 60)
    endif()
  else()
    gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
