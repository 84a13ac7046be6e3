# Fails when a C++ file of the repository is not formatted as .clang-format says, naming it.
#   cmake -DCLANG_FORMAT=clang-format -DSOURCE_DIR=. -P format_check.cmake
cmake_minimum_required(VERSION 3.25)
file(GLOB_RECURSE files LIST_DIRECTORIES false
     "${SOURCE_DIR}/src/*.cpp" "${SOURCE_DIR}/src/*.h" "${SOURCE_DIR}/tests/*.cpp"
     "${SOURCE_DIR}/tests/*.h" "${SOURCE_DIR}/bench/*.cpp" "${SOURCE_DIR}/bench/*.h"
     "${SOURCE_DIR}/fuzz/*.cpp")
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "format_check: no C++ files found under ${SOURCE_DIR}")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files}
                RESULT_VARIABLE result ERROR_VARIABLE findings)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "clang-format findings (run clang-format -i on these files):\n${findings}")
endif()
message(STATUS "format_check: ${count} files formatted")
