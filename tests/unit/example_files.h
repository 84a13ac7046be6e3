// Access to the captured notifications in shared/examples, for tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace drec::testing {

inline std::string ReadExample(const std::string& name) {
  std::ifstream in(std::string(DREC_EXAMPLES_DIR) + "/" + name);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace drec::testing
