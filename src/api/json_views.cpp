#include "api/json_views.h"

// Boost.JSON in header-only mode: this is the one translation unit that compiles it.
#include <boost/json/src.hpp>

#include "util/time.h"

namespace drec {
namespace {

boost::json::value Time(const std::optional<UnixMillis>& t) {
  if (!t) return nullptr;
  return boost::json::string(FormatRfc3339(*t));
}

}  // namespace

boost::json::object CountersJson(const Counters& c) {
  return {{"numpulls", c.numpulls},           {"numpushs", c.numpushs},
          {"numchecks", c.numchecks},         {"numindexpulls", c.numindexpulls},
          {"numdeletes", c.numdeletes},       {"firstpushed", Time(c.firstpushed)},
          {"lastpushed", Time(c.lastpushed)}, {"firstpulled", Time(c.firstpulled)},
          {"lastpulled", Time(c.lastpulled)}};
}

boost::json::object RepositoryJson(const RepositoryRecord& r) {
  boost::json::object o{{"repositoryname", r.repositoryname}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  boost::json::array actors(r.actors.begin(), r.actors.end());
  o["actors"] = std::move(actors);
  o["numstars"] = r.numstars;
  o["tags"] = boost::json::array(r.tags.begin(), r.tags.end());
  return o;
}

boost::json::object TagJson(const TagRecord& r) {
  boost::json::object o{
      {"tag", r.tag},
      {"digest", r.digest.empty() ? boost::json::value(nullptr) : boost::json::value(r.digest)},
      {"deleted", r.deleted}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  return o;
}

boost::json::object DigestJson(const DigestRecord& r) {
  boost::json::object o{
      {"digest", r.digest}, {"mediaType", r.media_type}, {"size", r.size}, {"deleted", r.deleted}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  return o;
}

boost::json::object ActorJson(const ActorRecord& r) {
  boost::json::object o{
      {"actor", r.actor}, {"firstseen", Time(r.firstseen)}, {"lastseen", Time(r.lastseen)}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  return o;
}

boost::json::object DayJson(const DayRecord& r) {
  boost::json::object o{{"day", r.day}};
  for (auto& [k, v] : CountersJson(r.counters)) {
    if (k.starts_with("num")) o[k] = v;
  }
  return o;
}

std::string ErrorJson(std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", message}});
}

}  // namespace drec
