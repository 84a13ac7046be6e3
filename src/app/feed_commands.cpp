#include "app/feed_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "app/open_stores.h"
#include "app/settings_semantics.h"
#include "backfill/registry_log.h"
#include "config/config_loader.h"
#include "config/setting_table.h"
#include "ingest/envelope_parser.h"
#include "model/names.h"

namespace drec {
namespace {

constexpr std::string_view kReplayUsage =
    "Usage: drec replay [config.yml] [setting flags] [--registry NAME] FILE...\n"
    "\n"
    "Applies captured registry notifications to a registry's statistics, as if the registry had\n"
    "POSTed them: FILE holds one notification envelope (JSON) per line, \"-\" is standard input.\n"
    "Every event counts exactly once by its id, so replaying a file twice changes nothing.\n"
    "The settings are read as drec reads them (config file, DREC_* variables, flags): the store,\n"
    "counting.on_delete and the traffic classes. The config file must end in .yml or .yaml (or\n"
    "be given with --config). --registry: whose statistics (default \"default\").\n"
    "\n"
    "A line that is not an envelope is reported with its number and skipped; the others are\n"
    "applied. Exit status: 0 done, 1 a bad line, an unreadable file or a store failure, 2 bad\n"
    "usage or configuration. See docs/backfill.md.\n";

constexpr std::string_view kBackfillUsage =
    "Usage: drec backfill [config.yml] [setting flags] [--registry NAME]\n"
    "                     [--format auto|text|json] LOGFILE...\n"
    "\n"
    "Counts the manifest requests of a CNCF Distribution registry's own log (2.x and 3.x, text\n"
    "or JSON `log.formatter`; \"-\" is standard input): every GET, HEAD, PUT and DELETE of\n"
    "/v2/<name>/manifests/<reference> whose \"response completed\" line has a 2xx status becomes\n"
    "the event its notification would have been, with the id \"backfill:<http.request.id>\".\n"
    "Give the files oldest first. A second backfill of the same log adds nothing.\n"
    "\n"
    "Overlap with notifications: for each repository, only lines strictly before the\n"
    "repository's observation start in the store (observedsince) are used; from then on drec\n"
    "has the notifications. Then every repository of the log is observed from the log's first\n"
    "line on. A request by tag counts only with its digest: the log's debug lines (registry 2.x,\n"
    "log.level: debug) or an earlier line of the same tag give it, else the tag's digest in the\n"
    "store; without one it is ignored (missing_digest).\n"
    "\n"
    "--format: how lines are read (default auto: a line starting with `{` is JSON).\n"
    "--registry: whose statistics (default \"default\"). Settings as for drec replay.\n"
    "Exit status: 0 done, 1 an unreadable file or a store failure, 2 bad usage or configuration.\n"
    "See docs/backfill.md.\n";

// Events per Apply: one store transaction each, small enough to keep a transaction short.
constexpr std::size_t kBatchEvents = 500;

void Say(std::string_view command, const std::string& line) {
  std::fprintf(stderr, "drec %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               line.c_str());
}

struct Arguments {
  std::string registry{kDefaultRegistry};
  backfill::LogFormat format = backfill::LogFormat::kAuto;
  std::vector<std::string> files;
  std::vector<const char*> rest = {"drec"};  // drec's own: config file and setting flags
  bool help = false;
};

// True when `flag` is one of drec's setting flags that takes the next argument as its value.
bool TakesValue(std::string_view flag) {
  if (flag == "--config") return true;
  for (const config::SettingDef& def : config::Table()) {
    if (config::FlagName(def.key) == flag) return def.codec.shape != config::Shape::kBool;
  }
  return false;
}

// The command's own options and files apart from drec's arguments. A positional argument ending
// in .yml or .yaml is the config file (the first one only); every other one is a file to read.
Result<Arguments> Split(int argc, const char* const* argv, bool with_format) {
  Arguments args;
  bool config_seen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    auto value = [&](std::string_view name) -> Result<std::string> {
      if (arg.size() > name.size() && arg[name.size()] == '=') {
        return std::string(arg.substr(name.size() + 1));
      }
      if (i + 1 >= argc) return Status::InvalidArgument(std::string(name) + " needs a value");
      return std::string(argv[++i]);
    };
    auto is = [&](std::string_view name) {
      return arg == name ||
             (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=');
    };
    if (arg == "-h" || arg == "--help") {
      args.help = true;
    } else if (is("--registry")) {
      auto name = value("--registry");
      if (!name.ok()) return name.status();
      args.registry = *name;
    } else if (with_format && is("--format")) {
      auto format = value("--format");
      if (!format.ok()) return format.status();
      if (*format == "auto") {
        args.format = backfill::LogFormat::kAuto;
      } else if (*format == "text") {
        args.format = backfill::LogFormat::kText;
      } else if (*format == "json") {
        args.format = backfill::LogFormat::kJson;
      } else {
        return Status::InvalidArgument("--format must be auto, text or json, not \"" + *format +
                                       "\"");
      }
    } else if (arg.starts_with("-") && arg != "-") {
      args.rest.push_back(argv[i]);
      if (arg.find('=') == std::string_view::npos && TakesValue(arg) && i + 1 < argc) {
        args.rest.push_back(argv[++i]);
      }
    } else if (!config_seen && (arg.ends_with(".yml") || arg.ends_with(".yaml"))) {
      config_seen = true;
      args.rest.push_back(argv[i]);
    } else {
      args.files.emplace_back(arg);
    }
  }
  return args;
}

// Calls `each` with every line of `file` ("-": standard input) and its number from 1.
Status ForEachLine(const std::string& file,
                   const std::function<Status(std::string_view, std::int64_t)>& each) {
  std::ifstream stream;
  std::istream* in = &std::cin;
  if (file != "-") {
    stream.open(file, std::ios::binary);
    if (!stream) return Status::NotFound("cannot open " + file);
    in = &stream;
  }
  std::string line;
  std::int64_t number = 0;
  while (std::getline(*in, line)) {
    ++number;
    if (Status s = each(line, number); !s.ok()) return s;
  }
  if (in->bad()) return Status::Internal("cannot read " + file);
  return Status::Ok();
}

// Interprets events as the ingest endpoint does and applies them in batches, counting what
// happened for the summary.
class Feeder {
 public:
  Feeder(Store& store, std::string registry, DeletePolicy policy, const Classifier& classifier)
      : store_(store), registry_(std::move(registry)), policy_(policy), classifier_(classifier) {}

  Status Add(Event event) {
    pending_.push_back(std::move(event));
    ++events_;
    return pending_.size() >= kBatchEvents ? Flush() : Status::Ok();
  }

  Status Flush() {
    if (pending_.empty()) return Status::Ok();
    Interpretation interpretation = Interpret(pending_, policy_, classifier_);
    pending_.clear();
    for (IgnoreReason reason : interpretation.ignored) ++ignored_[IgnoreReasonName(reason)];
    return ApplyEffects(std::move(interpretation.effects));
  }

  // Applies effects made outside the semantics (backfill's observation starts).
  Status ApplyEffects(std::vector<EventEffect> effects) {
    if (effects.empty()) return Status::Ok();
    for (EventEffect& effect : effects) effect.registry = registry_;
    ApplyOutcome outcome;
    Batch batch{std::move(effects)};
    if (Status s = store_.Apply(batch, &outcome); !s.ok()) return s;
    applied_ += outcome.applied;
    duplicates_ += outcome.duplicates;
    if (outcome.unknown_manifests > 0) {
      ignored_[IgnoreReasonName(IgnoreReason::kUnknownDigestDelete)] += outcome.unknown_manifests;
    }
    return Status::Ok();
  }

  // The summary's counting lines.
  std::string Summary() const {
    std::int64_t ignored = 0;
    std::string reasons;
    for (const auto& [reason, count] : ignored_) {
      ignored += count;
      reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : ", ", reason, count);
    }
    return fmt::format("events: {}\napplied: {}\nduplicates: {}\nignored: {}{}\n", events_,
                       applied_, duplicates_, ignored, reasons.empty() ? "" : " (" + reasons + ")");
  }

 private:
  Store& store_;
  std::string registry_;
  DeletePolicy policy_;
  const Classifier& classifier_;
  std::vector<Event> pending_;
  std::int64_t events_ = 0, applied_ = 0, duplicates_ = 0;
  std::map<std::string_view, std::int64_t> ignored_;
};

// What both commands start with: their arguments, the settings and the registry's store.
struct Setup {
  Arguments args;
  Settings settings;
  std::unique_ptr<Store> store;
};

// nullopt with `exit_code` set when the command ends here (help, a usage or setting error).
std::optional<Setup> Prepare(std::string_view command, std::string_view usage, int argc,
                             const char* const* argv, const std::map<std::string, std::string>& env,
                             bool with_format, int& exit_code) {
  auto args = Split(argc, argv, with_format);
  if (!args.ok()) {
    Say(command, args.status().message() + fmt::format(" (see drec {} --help)", command));
    exit_code = 2;
    return std::nullopt;
  }
  if (args->help) {
    std::fwrite(usage.data(), 1, usage.size(), stdout);
    exit_code = 0;
    return std::nullopt;
  }
  if (args->files.empty()) {
    Say(command, fmt::format("no file to read (see drec {} --help)", command));
    exit_code = 2;
    return std::nullopt;
  }
  auto outcome = LoadSettings(static_cast<int>(args->rest.size()), args->rest.data(), env);
  if (!outcome.ok()) {
    Say(command, outcome.status().message());
    exit_code = 2;
    return std::nullopt;
  }
  if (auto* early = std::get_if<EarlyExit>(&*outcome)) {
    std::fputs(early->text.c_str(), stdout);
    exit_code = early->exit_code;
    return std::nullopt;
  }
  Setup setup{std::move(args).value(), std::get<Settings>(std::move(*outcome)), nullptr};
  const std::vector<std::string> names = RegistryNames(setup.settings);
  if (std::find(names.begin(), names.end(), setup.args.registry) == names.end()) {
    Say(command, fmt::format("--registry {}: not one of the registries drec serves ({})",
                             setup.args.registry, fmt::join(names, ", ")));
    exit_code = 2;
    return std::nullopt;
  }
  auto store = OpenStore(setup.settings, setup.args.registry);
  if (!store.ok()) {
    Say(command, store.status().message());
    exit_code = store.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
    return std::nullopt;
  }
  setup.store = std::move(store).value();
  return setup;
}

}  // namespace

int RunReplay(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  int exit_code = 0;
  auto setup = Prepare("replay", kReplayUsage, argc, argv, env, false, exit_code);
  if (!setup) return exit_code;
  const Classifier classifier = MakeClassifier(setup->settings);
  Feeder feeder(*setup->store, setup->args.registry, DeletePolicyOf(setup->settings), classifier);
  std::int64_t lines = 0, bad_lines = 0;
  for (const std::string& file : setup->args.files) {
    Status read = ForEachLine(file, [&](std::string_view line, std::int64_t number) {
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) return Status::Ok();
      ++lines;
      auto envelope = ParseEnvelope(line);
      if (!envelope.ok()) {
        ++bad_lines;
        Say("replay", fmt::format("{}:{}: skipped: {}", file, number, envelope.status().message()));
        return Status::Ok();
      }
      for (Event& event : envelope->events) {
        if (Status s = feeder.Add(std::move(event)); !s.ok()) return s;
      }
      return Status::Ok();
    });
    if (!read.ok()) {
      Say("replay", read.message());
      exit_code = 1;
      if (read.code() != Status::Code::kNotFound) break;  // a store failure: stop here
    }
  }
  if (Status s = feeder.Flush(); !s.ok()) {
    Say("replay", s.message());
    exit_code = 1;
  }
  std::printf("lines: %lld\nbad lines: %lld%s\n%s", static_cast<long long>(lines),
              static_cast<long long>(bad_lines),
              bad_lines > 0 ? " (skipped, reported above; exit status 1)" : "",
              feeder.Summary().c_str());
  if (bad_lines > 0) exit_code = 1;
  return exit_code;
}

int RunBackfill(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  int exit_code = 0;
  auto setup = Prepare("backfill", kBackfillUsage, argc, argv, env, true, exit_code);
  if (!setup) return exit_code;
  Store& store = *setup->store;
  const Classifier classifier = MakeClassifier(setup->settings);
  Feeder feeder(store, setup->args.registry, DeletePolicyOf(setup->settings), classifier);
  backfill::LogReader reader(setup->args.format);

  // Each repository's observation start as the store had it before this run: lines from then on
  // were notified. Read once, before any of the repository's lines is applied.
  std::map<std::string, std::optional<UnixMillis>, std::less<>> cutoffs;
  auto cutoff = [&](const std::string& repository) -> Result<std::optional<UnixMillis>> {
    if (auto it = cutoffs.find(repository); it != cutoffs.end()) return it->second;
    auto record = store.GetRepository(repository);
    if (!record.ok()) return record.status();
    std::optional<UnixMillis> since;
    if (*record) {
      since = (*record)->observedsince;
      // A repository recorded before drec kept its observation start: the earliest push or pull
      // of it, or of one of its manifests (an untagged push counts only on the digest).
      if (!since) {
        auto earliest = [&since](const Counters& counters) {
          since = Earliest(since, Earliest(counters.times[TimeField::kFirstPushed],
                                           counters.times[TimeField::kFirstPulled]));
        };
        earliest((*record)->counters);
        auto digests = store.ListDigests(repository);
        if (!digests.ok()) return digests.status();
        for (const DigestRecord& digest : *digests) earliest(digest.counters);
      }
      // Known, yet without any time: nothing says since when, so no line is taken as older.
      if (!since) since = std::numeric_limits<UnixMillis>::min();
    }
    cutoffs.emplace(repository, since);
    return since;
  };
  // A tag's digest as the store has it, for requests by tag that the log does not resolve.
  std::map<std::string, std::map<std::string, std::string>, std::less<>> store_tags;
  auto stored_digest = [&](const std::string& repository,
                           const std::string& tag) -> Result<std::string> {
    auto it = store_tags.find(repository);
    if (it == store_tags.end()) {
      auto tags = store.ListTags(repository);
      if (!tags.ok()) return tags.status();
      std::map<std::string, std::string> digests;
      for (const TagRecord& record : *tags) {
        if (!record.digest.empty()) digests.emplace(record.tag, record.digest);
      }
      it = store_tags.emplace(repository, std::move(digests)).first;
    }
    auto found = it->second.find(tag);
    return found == it->second.end() ? std::string() : found->second;
  };

  std::int64_t lines = 0, requests = 0, used = 0, overlap = 0, from_store = 0;
  std::set<std::string> repositories;
  for (const std::string& file : setup->args.files) {
    Status read = ForEachLine(file, [&](std::string_view line, std::int64_t) {
      ++lines;
      std::optional<Event> event = reader.Feed(line);
      if (!event) return Status::Ok();
      ++requests;
      if (IsRepositoryName(event->repository)) repositories.insert(event->repository);
      auto since = cutoff(event->repository);
      if (!since.ok()) return since.status();
      if (*since && (!event->timestamp || *event->timestamp >= **since)) {
        ++overlap;
        return Status::Ok();
      }
      if (event->digest.empty() && !event->tag.empty() && event->action != "delete") {
        auto digest = stored_digest(event->repository, event->tag);
        if (!digest.ok()) return digest.status();
        if (!digest->empty()) {
          event->digest = std::move(*digest);
          ++from_store;
        }
      }
      ++used;
      return feeder.Add(std::move(*event));
    });
    if (!read.ok()) {
      Say("backfill", read.message());
      exit_code = 1;
      if (read.code() != Status::Code::kNotFound) break;
    }
  }
  if (Status s = feeder.Flush(); !s.ok()) {
    Say("backfill", s.message());
    exit_code = 1;
  }
  // Every repository of the log has been observed from the log's first line on: the stores fold
  // the start with min, and the id makes a second backfill of the same log a duplicate.
  const std::optional<UnixMillis> first = reader.first_time();
  if (exit_code == 0 && first) {
    std::vector<EventEffect> starts;
    for (const std::string& repository : repositories) {
      EventEffect effect{
          fmt::format("{}observed:{}:{}", backfill::kEventIdPrefix, repository, *first),
          *first,
          {RepositoryUpdate{repository, Delta{}, "", *first}},
          std::nullopt};
      starts.push_back(std::move(effect));
    }
    if (Status s = Feeder(store, setup->args.registry, DeletePolicyOf(setup->settings), classifier)
                       .ApplyEffects(std::move(starts));
        !s.ok()) {
      Say("backfill", s.message());
      exit_code = 1;
    }
  }
  std::printf(
      "lines read: %lld\nmanifest requests: %lld\nlines used: %lld\nlines skipped as overlap: "
      "%lld\ndigests from the store: %lld\n%srepositories: %zu (observed from %s)\n",
      static_cast<long long>(lines), static_cast<long long>(requests), static_cast<long long>(used),
      static_cast<long long>(overlap), static_cast<long long>(from_store), feeder.Summary().c_str(),
      repositories.size(), first ? FormatRfc3339(*first).c_str() : "-");
  return exit_code;
}

}  // namespace drec
