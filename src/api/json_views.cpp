#include "api/json_views.h"

#include "util/time.h"

namespace drec {
namespace {

boost::json::value Time(const std::optional<UnixMillis>& t) {
  if (!t) return nullptr;
  return boost::json::string(FormatRfc3339(*t));
}

}  // namespace

boost::json::object CountValuesJson(const CounterValues& counts) {
  boost::json::object o;
  for (const auto& field : kCounterFields) o[field.name] = counts[field.counter];
  return o;
}

boost::json::object CountersJson(const Counters& c) {
  boost::json::object o = CountValuesJson(c.counts);
  for (const auto& field : kTimeFields) o[field.name] = Time(c.times[field.field]);
  return o;
}

boost::json::object RepositoryJson(const RepositoryRecord& r) {
  boost::json::object o{{"registry", r.registry}, {"repositoryname", r.repositoryname}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  boost::json::array actors(r.actors.begin(), r.actors.end());
  o["actors"] = std::move(actors);
  o["numstars"] = r.numstars;
  o["tags"] = boost::json::array(r.tags.begin(), r.tags.end());
  o["observedsince"] = Time(r.observedsince);
  return o;
}

boost::json::object TagJson(const TagRecord& r) {
  boost::json::object o{
      {"tag", r.tag},
      {"digest", r.digest.empty() ? boost::json::value(nullptr) : boost::json::value(r.digest)},
      {"deleted", r.deleted},
      {"attachment", r.attachment}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  return o;
}

boost::json::object DigestJson(const DigestRecord& r) {
  boost::json::object o{
      {"digest", r.digest}, {"mediaType", r.media_type}, {"size", r.size}, {"deleted", r.deleted}};
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  o["parents"] = boost::json::array(r.parents.begin(), r.parents.end());
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
  for (auto& [k, v] : CountValuesJson(r.counters.counts)) o[k] = v;
  return o;
}

boost::json::object ClassJson(const ClassRecord& r) {
  boost::json::object o{{"class", r.cls}};
  if (!r.tag.empty()) o["tag"] = r.tag;
  if (!r.day.empty()) o["day"] = r.day;
  for (auto& [k, v] : CountersJson(r.counters)) o[k] = v;
  return o;
}

}  // namespace drec
