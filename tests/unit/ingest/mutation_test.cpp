// Network input never crashes drec: thousands of mutated real envelopes go
// through parsing and semantics (under ASan/UBSan in the sanitize preset). The
// mutations are seeded, so a failure reproduces.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "../example_files.h"
#include "ingest/envelope_parser.h"
#include "semantics/semantics.h"

namespace drec {
namespace {

std::string Mutate(std::string text, std::mt19937& rng) {
  static constexpr char kAlphabet[] = "{}[]\",:0123456789.eE+-tfnul \\abcxyz\x00\xff\xc3";
  std::uniform_int_distribution<int> kind(0, 3);
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < edits && !text.empty(); ++i) {
    const size_t at = rng() % text.size();
    const char c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
    switch (kind(rng)) {
      case 0:
        text[at] = c;
        break;
      case 1:
        text.insert(at, 1, c);
        break;
      case 2:
        text.erase(at, 1 + rng() % 16);
        break;
      default:
        text.insert(at, text.substr(rng() % text.size(), rng() % 64));
        break;
    }
  }
  return text;
}

TEST(MutationTest, MutatedEnvelopesNeverCrashParsingOrSemantics) {
  std::vector<std::string> seeds;
  for (const char* registry : testing::kRegistries) {
    for (const char* file :
         {"manifest-push-tagged.json", "index-pull-get.json", "delete-digest.json"}) {
      seeds.push_back(testing::ReadExample(file, registry));
    }
  }
  std::mt19937 rng(20261127);
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string body = Mutate(seeds[i % seeds.size()], rng);
    auto envelope = ParseEnvelope(body);
    if (!envelope.ok()) {
      EXPECT_EQ(envelope.status().code(), Status::Code::kInvalidArgument);
      ++rejected;
      continue;
    }
    ++parsed;
    const Interpretation in = Interpret(envelope->events, DeletePolicy::kKeep, DefaultClassifier());
    EXPECT_EQ(in.effects.size() + in.ignored.size(), envelope->events.size());
  }
  // Both paths were exercised, or the mutations taught nothing.
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace drec
