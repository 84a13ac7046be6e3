#include "metrics/process_metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace drec {
namespace {

void Gauge(std::string& out, std::string_view name, std::string_view type, std::string_view help,
           double value) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                 type, value);
}

// The fields of /proc/self/stat after the command name, which may hold spaces and parentheses:
// fields()[0] is field 3 (state) of proc(5).
std::vector<std::string> StatFields() {
  std::ifstream file("/proc/self/stat");
  const std::string line((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::size_t end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return {};
  std::istringstream rest(line.substr(end_of_name + 1));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

// Seconds since the epoch at which the machine booted (btime in /proc/stat), 0 if unknown.
double BootTime() {
  std::ifstream file("/proc/stat");
  std::string key;
  while (file >> key) {
    if (key == "btime") {
      double seconds = 0;
      file >> seconds;
      return seconds;
    }
    file.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

// The soft limit on open files ("Max open files" in /proc/self/limits), 0 if unknown.
double MaxOpenFiles() {
  std::ifstream file("/proc/self/limits");
  std::string line;
  while (std::getline(file, line)) {
    if (line.starts_with("Max open files")) {
      std::istringstream fields(line.substr(14));
      double soft = 0;
      fields >> soft;
      return soft;
    }
  }
  return 0;
}

}  // namespace

std::string RenderProcessMetrics() {
  std::string out;
  const std::vector<std::string> stat = StatFields();
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24; stat[0] is field 3.
  if (stat.size() > 21) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    Gauge(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
          (std::stod(stat[11]) + std::stod(stat[12])) / ticks);
    if (const double boot = BootTime(); boot > 0) {
      Gauge(out, "process_start_time_seconds", "gauge",
            "Start time of the process since unix epoch in seconds.",
            boot + std::stod(stat[19]) / ticks);
    }
    Gauge(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
          std::stod(stat[20]));
    Gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
          std::stod(stat[21]) * page);
  }
  std::error_code ec;
  double open = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++open;
  }
  if (!ec) Gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.", open);
  if (const double max = MaxOpenFiles(); max > 0) {
    Gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
  }
  return out;
}

}  // namespace drec
