// libFuzzer target: YAML text as drec's configuration file through LoadSettings, the same
// sources and checks start-up runs (`drec --check-config <file>`, which also renders every
// setting back). The answer must be the settings or an InvalidArgument that names the problem:
// a crash, a sanitizer report, an escaping exception or an Internal status (an exception that a
// source failed to turn into a message) is a finding. Build and run: fuzz/README.md.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "config/config_loader.h"

namespace {

[[noreturn]] void Finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

// The file LoadSettings reads: an anonymous memory file, rewritten for every input, so that the
// loader runs unchanged (it takes a path) without touching the disk.
int MemoryFile() {
  static const int fd = memfd_create("drec-fuzz-config", 0);
  if (fd < 0) Finding("memfd_create failed", "");
  return fd;
}

// The loader reads the files that settings name (TLS files, auth.tokens_file,
// dial_info.password_file). Inputs that could name a device or a kernel file (/dev/zero would
// never end) are skipped: they test the machine, not the loader. YAML escapes could spell such
// a path too (and a
// backslash before a line break joins two lines), so inputs with them are skipped as well.
bool NamesSpecialFile(std::string_view text) {
  for (std::string_view bad : {"/dev", "/proc", "/sys", "dev/", "proc/", "sys/", "fd/", "\\x",
                               "\\u", "\\U", "\\/", "\\\n", "\\\r"}) {
    if (text.find(bad) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (NamesSpecialFile(text)) return -1;  // -1: libFuzzer keeps it out of the corpus
  const int fd = MemoryFile();
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    Finding("cannot write the memory file", "");
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const char* argv[] = {"drec", "--check-config", path.c_str()};
  const std::map<std::string, std::string> env;
  try {
    auto outcome = drec::LoadSettings(3, argv, env);
    if (outcome.ok()) {
      const auto* exit = std::get_if<drec::EarlyExit>(&*outcome);
      if (exit == nullptr || exit->exit_code != 0 || exit->text.empty()) {
        Finding("--check-config accepted the file but printed nothing", "");
      }
    } else if (outcome.status().code() != drec::Status::Code::kInvalidArgument) {
      Finding("not an InvalidArgument", outcome.status().message());
    }
  } catch (...) {  // LoadSettings returns a Status for everything; a throw is a finding
    Finding("exception escaped LoadSettings", "");
  }
  return 0;
}
