// Who a drec process is, as the MongoDB writer lease records it (writer_lease.h): a name an
// operator can read (host, pid), and what lets another drec on the same machine tell whether
// that process still runs, so a restart after kill -9 does not wait for the lease to expire.
#pragma once

#include <cstdint>
#include <string>

namespace drec::mongo {

struct ProcessIdentity {
  std::string host;
  std::int64_t pid = 0;
  // The kernel's boot id and the pid namespace: two processes that share both can look each
  // other up by pid. Empty where unknown (not Linux, no /proc).
  std::string boot_id;
  std::string pid_namespace;
  // When the process started, in clock ticks since boot: tells a reused pid apart. 0: unknown.
  std::int64_t start_ticks = 0;
};

// This process; read once, it does not change.
const ProcessIdentity& ThisProcess();

enum class Liveness {
  kUnknown,  // another machine or pid namespace, or nothing to go by
  kRunning,  // the very process still runs (a zombie does not)
  kGone,     // it ran on this machine, in this pid namespace, and has ended
};

// Whether `process` still runs, as far as this process can see it.
Liveness LivenessOf(const ProcessIdentity& process);

}  // namespace drec::mongo
