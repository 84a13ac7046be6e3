// drec replay and drec backfill as commands, on a real SQLite file: the captured envelopes and
// registry log of tests/data count once, a second run adds nothing, bad lines and bad usage get
// their exit status. The end-to-end test (tests/e2e/backfill_e2e.py) compares with a real drec.
#include "app/feed_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../example_files.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

class FeedCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("drec-feed-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "drec.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int Run(const std::string& command, std::vector<std::string> args) {
    std::vector<std::string> argv = {command, "--storage-sqlite-path", db_};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<const char*> pointers;
    pointers.reserve(argv.size());
    for (const std::string& arg : argv) pointers.push_back(arg.c_str());
    const std::map<std::string, std::string> env;
    const int argc = static_cast<int>(pointers.size());
    return command == "replay" ? RunReplay(argc, pointers.data(), env)
                               : RunBackfill(argc, pointers.data(), env);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  Counters RepositoryCounters(const std::string& name) {
    auto store = SqliteStore::Open(db_);
    EXPECT_TRUE(store.ok());
    if (!store.ok()) return {};
    auto record = (*store)->GetRepository(name);
    EXPECT_TRUE(record.ok() && record->has_value()) << name;
    return record.ok() && record->has_value() ? (**record).counters : Counters{};
  }

  std::filesystem::path dir_;
  std::string db_;
};

std::string OneLine(const std::string& json) {
  return boost::json::serialize(boost::json::parse(json)) + "\n";
}

TEST_F(FeedCommandsTest, ReplayCountsEachEventOnce) {
  const std::string file =
      Write("envelopes.jsonl", OneLine(testing::ReadExample("manifest-push-tagged.json")) +
                                   OneLine(testing::ReadExample("manifest-pull-get.json")));
  ASSERT_EQ(Run("replay", {file}), 0);
  const Counters once = RepositoryCounters("team/app");
  EXPECT_EQ(once.counts[Counter::kPushes], 1);
  EXPECT_EQ(once.counts[Counter::kPulls], 1);
  ASSERT_EQ(Run("replay", {file, file}), 0);
  EXPECT_EQ(RepositoryCounters("team/app"), once);
}

TEST_F(FeedCommandsTest, ReplayAppliesTheGoodLinesAndFailsOnABadOne) {
  const std::string file =
      Write("bad.jsonl", "{not json\n" + OneLine(testing::ReadExample("manifest-pull-get.json")));
  EXPECT_EQ(Run("replay", {file}), 1);
  EXPECT_EQ(RepositoryCounters("team/app").counts[Counter::kPulls], 1);
}

// The 2.8 log at debug level: PUT, GET by tag twice, GET by digest, HEAD, GET, DELETE.
TEST_F(FeedCommandsTest, BackfillCountsTheLogOnce) {
  const std::string log = std::string(DREC_TEST_DATA_DIR) + "/registry-logs/registry-2.8.txt";
  ASSERT_EQ(Run("backfill", {log}), 0);
  const Counters once = RepositoryCounters("team/app");
  EXPECT_EQ(once.counts[Counter::kPushes], 1);
  EXPECT_EQ(once.counts[Counter::kPulls], 4);
  EXPECT_EQ(once.counts[Counter::kChecks], 1);
  EXPECT_EQ(once.counts[Counter::kDeletes], 1);
  ASSERT_EQ(Run("backfill", {log}), 0);
  EXPECT_EQ(RepositoryCounters("team/app"), once);
}

// Lines at or after a repository's observation start were notified: they are not used.
TEST_F(FeedCommandsTest, BackfillSkipsWhatTheStoreObserved) {
  const std::string log = std::string(DREC_TEST_DATA_DIR) + "/registry-logs/registry-2.8.json";
  // A pull notified before the log's first line: the store observes team/app from then on.
  std::string pull = testing::ReadExample("manifest-pull-get.json");
  ASSERT_EQ(Run("replay", {Write("pull.jsonl", OneLine(pull))}), 0);
  ASSERT_EQ(RepositoryCounters("team/app").counts[Counter::kPulls], 1);
  // The captured pull is from before the log: every line of the log is after it.
  ASSERT_EQ(Run("backfill", {log}), 0);
  EXPECT_EQ(RepositoryCounters("team/app").counts[Counter::kPulls], 1);
}

TEST_F(FeedCommandsTest, BadUsageExitsTwo) {
  const std::string log = std::string(DREC_TEST_DATA_DIR) + "/registry-logs/registry-3.1.txt";
  EXPECT_EQ(Run("backfill", {}), 2);
  EXPECT_EQ(Run("backfill", {"--format", "xml", log}), 2);
  EXPECT_EQ(Run("backfill", {"--registry", "unknown", log}), 2);
  EXPECT_EQ(Run("replay", {"--no-such-flag", log}), 2);
  EXPECT_EQ(Run("replay", {(dir_ / "missing.jsonl").string()}), 1);
}

}  // namespace
}  // namespace drec
