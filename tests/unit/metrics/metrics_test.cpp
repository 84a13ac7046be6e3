#include "metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace drec {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, BuildInfoAndProcessMetrics) {
  const std::string text = Metrics({}, "1.2.3").Render();
  EXPECT_THAT(text, HasSubstr("\ndrec_build_info{version=\"1.2.3\"} 1\n"));
  // Read from /proc of this very process: it has memory and at least stdin, stdout, stderr.
  EXPECT_THAT(text, ContainsRegex("\nprocess_resident_memory_bytes [1-9][0-9]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_open_fds ([3-9]|[1-9][0-9]+)\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_start_time_seconds [1-9][0-9.e+]*\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(Metrics().Render(), Not(HasSubstr("drec_build_info")));
}

TEST(MetricsTest, ConfigReloadsByResult) {
  Metrics metrics;
  EXPECT_THAT(metrics.Render(), HasSubstr("\ndrec_config_last_reload_successful 1\n"));
  metrics.ConfigReload(true);
  metrics.ConfigReload(false);
  const std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("\ndrec_config_reloads_total{result=\"ok\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\ndrec_config_reloads_total{result=\"refused\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\ndrec_config_last_reload_successful 0\n"));
}

}  // namespace
}  // namespace drec
