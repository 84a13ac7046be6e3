#include "app/logging.h"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <memory>

namespace drec {
namespace {

// The message as a JSON string, quotes included: messages carry quotes, backslashes and
// control characters from the network, and a JSON log line must stay one valid object.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string quoted =
        boost::json::serialize(boost::json::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == LogFormat::kJson) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v");
  }
  return formatter;
}

void SetUpLogging(const Settings& settings) {
  // Lines go through a queue to a thread of their own, and when stderr stalls (a full pipe, a
  // stuck journal or terminal) the oldest queued lines are dropped: no thread of drec, the HTTP
  // and commit threads included, ever waits for stderr. A stalled stderr used to stop drec at
  // its first log line, before it served anything, and SIGTERM with it.
  constexpr std::size_t kQueuedLines = 8192;
  spdlog::init_thread_pool(kQueuedLines, 1);
  auto logger = spdlog::create_async_nb<spdlog::sinks::stderr_color_sink_mt>("drec");
  logger->set_formatter(MakeLogFormatter(settings.log_format));
  logger->set_level(spdlog::level::from_str(settings.log_level));
  spdlog::set_default_logger(logger);
}

}  // namespace drec
