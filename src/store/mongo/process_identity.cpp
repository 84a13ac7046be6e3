#include "store/mongo/process_identity.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>
#include <string_view>

namespace drec::mongo {
namespace {

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The state and the start time of a process from /proc/<pid>/stat; false when there is none.
// The command name (field 2) may hold spaces and parentheses, so fields count from its last ')'.
bool ReadStat(std::int64_t pid, char* state, std::int64_t* start_ticks) {
  const std::string stat = FirstLine("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return false;
  std::istringstream fields(stat.substr(name_end + 1));
  fields >> *state;  // field 3
  std::string skipped;
  for (int field = 4; field < 22; ++field) fields >> skipped;
  fields >> *start_ticks;  // field 22
  return !fields.fail();
}

ProcessIdentity ReadThisProcess() {
  ProcessIdentity self;
  std::array<char, HOST_NAME_MAX + 1> host{};
  if (gethostname(host.data(), host.size() - 1) == 0) self.host = host.data();
  self.pid = getpid();
  self.boot_id = FirstLine("/proc/sys/kernel/random/boot_id");
  std::array<char, 64> ns{};
  const ssize_t length = readlink("/proc/self/ns/pid", ns.data(), ns.size() - 1);
  if (length > 0) self.pid_namespace.assign(ns.data(), static_cast<std::size_t>(length));
  char state = 0;
  if (!ReadStat(self.pid, &state, &self.start_ticks)) self.start_ticks = 0;
  return self;
}

}  // namespace

const ProcessIdentity& ThisProcess() {
  static const ProcessIdentity self = ReadThisProcess();
  return self;
}

Liveness LivenessOf(const ProcessIdentity& process) {
  const ProcessIdentity& self = ThisProcess();
  // Only a process of the same boot and pid namespace is visible under its pid. (A namespace's
  // number is reused only after every process in it has ended, and then no process there has
  // the recorded start time.)
  if (self.boot_id.empty() || self.pid_namespace.empty() || process.start_ticks == 0 ||
      process.boot_id != self.boot_id || process.pid_namespace != self.pid_namespace ||
      process.pid <= 0) {
    return Liveness::kUnknown;
  }
  // kill(pid, 0) sees every process of the namespace, even where /proc hides other users'.
  if (kill(static_cast<pid_t>(process.pid), 0) != 0 && errno == ESRCH) return Liveness::kGone;
  char state = 0;
  std::int64_t start_ticks = 0;
  if (!ReadStat(process.pid, &state, &start_ticks)) return Liveness::kUnknown;
  if (start_ticks != process.start_ticks) return Liveness::kGone;  // the pid was reused
  return state == 'Z' || state == 'X' ? Liveness::kGone : Liveness::kRunning;
}

}  // namespace drec::mongo
