// The process's own resource use in the Prometheus client libraries' standard names
// (process_resident_memory_bytes, process_open_fds, ...), read from /proc when /metrics is
// scraped, so that the usual dashboards and alerts for any service work for drec unchanged.
#pragma once

#include <string>

namespace drec {

// The process_* metrics in Prometheus text format; a metric whose /proc file cannot be read
// (not Linux, a hardened /proc) is left out rather than reported as zero.
std::string RenderProcessMetrics();

}  // namespace drec
