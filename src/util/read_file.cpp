#include "util/read_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace drec {

Result<std::string> ReadFile(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return Status::InvalidArgument("is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(errno != 0 ? std::strerror(errno) : "cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("read error");
  return text.str();
}

}  // namespace drec
