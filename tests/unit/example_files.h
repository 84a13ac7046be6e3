// Access to the notifications captured from real registries in tests/data (made by
// scripts/capture-events.py, described in tests/data/README.md), for tests. Expected values are
// read from the fixture itself, so a new capture needs no test edits.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace drec::testing {

// The fixture directories, one per registry version.
inline constexpr const char* kRegistry28 = "registry-2.8";
inline constexpr const char* kRegistry31 = "registry-3.1";
inline constexpr const char* kRegistries[] = {kRegistry28, kRegistry31};

// Names the instances of a test parametrized over kRegistries: "registry_2_8".
inline std::string RegistryTestName(const ::testing::TestParamInfo<const char*>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (c == '-' || c == '.') c = '_';
  }
  return name;
}

// The file's text; a file that cannot be read fails the calling test, naming its path.
inline std::string ReadExample(const std::string& name, const std::string& registry = kRegistry28) {
  const std::string path = std::string(DREC_TEST_DATA_DIR) + "/" + registry + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open test data file " << path;
    return "";
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The envelopes of a scenario file (`<scenario>.events.json`: a JSON array of every envelope the
// registry sent during the scenario, in arrival order), each serialized back to a POST body.
inline std::vector<std::string> ScenarioEnvelopes(const std::string& name,
                                                  const std::string& registry = kRegistry28) {
  boost::json::error_code ec;
  const boost::json::value scenario = boost::json::parse(ReadExample(name, registry), ec);
  std::vector<std::string> bodies;
  if (ec || !scenario.is_array() || scenario.get_array().empty()) {
    ADD_FAILURE() << registry << "/" << name << " is not a non-empty array of envelopes";
    return bodies;
  }
  for (const auto& envelope : scenario.get_array()) {
    bodies.push_back(boost::json::serialize(envelope));
  }
  return bodies;
}

// A field of the fixture's first event, by JSON pointer below it ("id", "target/digest").
inline boost::json::value ExampleField(const std::string& name, const std::string& pointer,
                                       const std::string& registry = kRegistry28) {
  boost::json::error_code ec;
  const boost::json::value envelope = boost::json::parse(ReadExample(name, registry), ec);
  const boost::json::value* field =
      ec ? nullptr : envelope.find_pointer("/events/0/" + pointer, ec);
  if (field == nullptr) {
    ADD_FAILURE() << registry << "/" << name << " has no /events/0/" << pointer;
    return nullptr;
  }
  return *field;
}

inline std::string ExampleString(const std::string& name, const std::string& pointer,
                                 const std::string& registry = kRegistry28) {
  const boost::json::value field = ExampleField(name, pointer, registry);
  return field.is_string() ? std::string(field.get_string()) : std::string();
}

inline std::int64_t ExampleInt(const std::string& name, const std::string& pointer,
                               const std::string& registry = kRegistry28) {
  const boost::json::value field = ExampleField(name, pointer, registry);
  return field.is_int64() ? field.get_int64() : -1;
}

// The event's timestamp as drec formats times: UTC, truncated to milliseconds
// ("2026-11-27T02:24:26.171909475Z" -> "2026-11-27T02:24:26.171Z"). Registries send UTC ("Z")
// with a fraction whose trailing zeros Go drops, or none at all.
inline std::string ExampleMillis(const std::string& name,
                                 const std::string& registry = kRegistry28) {
  const std::string timestamp = ExampleString(name, "timestamp", registry);
  if (timestamp.size() < 20 || timestamp.back() != 'Z') {
    ADD_FAILURE() << registry << "/" << name << ": not a UTC timestamp: " << timestamp;
    return "";
  }
  std::string fraction = timestamp.size() > 21 && timestamp[19] == '.'
                             ? timestamp.substr(20, timestamp.size() - 21)
                             : std::string();
  fraction = (fraction + "000").substr(0, 3);
  return timestamp.substr(0, 19) + "." + fraction + "Z";
}

}  // namespace drec::testing
