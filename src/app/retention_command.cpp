#include "app/retention_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <vector>

#include "app/open_stores.h"
#include "config/config_loader.h"
#include "retention/executor.h"
#include "retention/gather.h"
#include "retention/plan_format.h"
#include "retention/policy.h"

namespace drec {
namespace {

constexpr std::string_view kUsage =
    "Usage: drec retention plan  [config.yml] [setting flags] --policy FILE [--at TIME]\n"
    "                            [--format table|json] [--verbose]\n"
    "       drec retention apply [config.yml] [setting flags] --policy FILE [--at TIME] [--yes]\n"
    "                            [--report FILE]\n"
    "\n"
    "plan prints which tags and manifests the policy deletes and why each other tag stays,\n"
    "from drec's statistics (read where the settings say, as drec reads them) and, when the\n"
    "policy names registry.url, checked against what the registry serves now.\n"
    "apply computes the same plan and, with --yes only, deletes its manifests through the\n"
    "registry's API (DELETE /v2/<name>/manifests/<digest>), re-checking each first; without\n"
    "--yes it is a dry run that prints the plan. --report writes the outcome as JSON.\n"
    "--at: the evaluation time (RFC 3339, default now): \"pulled within 90d\" counts back from "
    "it.\n"
    "\n"
    "Exit status: 0 done, 1 the store or the registry failed (apply: the report lists what was\n"
    "deleted, what failed, what was not attempted), 2 bad usage, configuration or policy.\n";

void Say(const std::string& line) { std::fprintf(stderr, "drec retention: %s\n", line.c_str()); }

struct Options {
  std::string action;
  std::string policy;
  std::optional<UnixMillis> at;
  bool json = false;
  bool verbose = false;
  bool yes = false;
  std::string report;
  std::vector<const char*> rest = {"drec"};
};

// Empty when the arguments are good, else the message.
std::string ParseArguments(int argc, const char* const* argv, Options& o) {
  if (argc < 2) return "plan or apply expected";
  o.action = argv[1];
  if (o.action != "plan" && o.action != "apply") return "plan or apply expected, not " + o.action;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg(argv[i]);
    std::string value;
    const auto take = [&](std::string_view name) {
      if (arg == name && i + 1 < argc) {
        value = argv[++i];
        return true;
      }
      if (arg.starts_with(std::string(name) + "=")) {
        value = std::string(arg.substr(name.size() + 1));
        return true;
      }
      return false;
    };
    if (take("--policy")) {
      o.policy = value;
    } else if (take("--at")) {
      o.at = ParseRfc3339(value);
      if (!o.at) return fmt::format("--at: \"{}\" is not an RFC 3339 time", value);
    } else if (take("--format")) {
      if (value != "table" && value != "json") return "--format: table or json";
      o.json = value == "json";
    } else if (take("--report")) {
      o.report = value;
    } else if (arg == "--yes") {
      o.yes = true;
    } else if (arg == "--verbose" || arg == "-v") {
      o.verbose = true;
    } else if (arg == "--policy" || arg == "--at" || arg == "--format" || arg == "--report") {
      return fmt::format("{} needs a value", arg);
    } else {
      o.rest.push_back(argv[i]);
    }
  }
  if (o.policy.empty()) return "--policy FILE is required";
  return {};
}

boost::json::object ReportJson(const retention::Plan& plan, const retention::ApplyReport& report) {
  boost::json::array outcomes;
  for (const auto& o : report.outcomes) {
    boost::json::array tags;
    for (const std::string& tag : o.deletion.tags) tags.emplace_back(tag);
    outcomes.push_back(boost::json::object{{"repository", o.deletion.repository},
                                           {"digest", o.deletion.digest},
                                           {"tags", std::move(tags)},
                                           {"result", retention::OutcomeName(o.result)},
                                           {"message", o.message}});
  }
  return {{"at", FormatRfc3339(plan.at)},   {"registry", plan.registry},
          {"deleted", report.deleted},      {"skipped", report.skipped},
          {"failed", report.failed},        {"not_attempted", report.not_attempted},
          {"outcomes", std::move(outcomes)}};
}

}  // namespace

int RunRetention(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    }
  }
  Options o;
  if (std::string why = ParseArguments(argc, argv, o); !why.empty()) {
    Say(why + " (see drec retention --help)");
    return 2;
  }
  auto outcome = LoadSettings(static_cast<int>(o.rest.size()), o.rest.data(), env);
  if (!outcome.ok()) {
    Say(outcome.status().message());
    return 2;
  }
  if (auto* early = std::get_if<EarlyExit>(&*outcome)) {
    std::fputs(early->text.c_str(), stdout);
    return early->exit_code;
  }
  const Settings& settings = std::get<Settings>(*outcome);
  auto policy = retention::LoadPolicy(o.policy);
  if (!policy.ok()) {
    Say(policy.status().message());
    return 2;
  }
  const auto names = RegistryNames(settings);
  if (std::find(names.begin(), names.end(), policy->registry.name) == names.end()) {
    Say(fmt::format("{}: registry.name: \"{}\" is none of drec's registries ({})", o.policy,
                    policy->registry.name, fmt::join(names, ", ")));
    return 2;
  }
  auto client = retention::RegistryClientFor(policy->registry);
  if (!client.ok()) {
    Say(fmt::format("{}: registry: {}", o.policy, client.status().message()));
    return 2;
  }
  const std::unique_ptr<RegistryClient> registry = std::move(client).value();
  if (registry == nullptr && o.action == "apply") {
    Say(fmt::format("{}: registry.url is required to apply a plan", o.policy));
    return 2;
  }
  auto store = OpenStore(settings, policy->registry.name);
  if (!store.ok()) {
    Say(store.status().message());
    return store.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  auto views = retention::GatherViews(*policy, **store, registry.get());
  if (!views.ok()) {
    Say(views.status().message() + "; nothing was deleted");
    return 1;
  }
  retention::Plan plan = retention::MakePlan(*policy, *views, o.at.value_or(NowMillis()));
  plan.checked_against_registry = registry != nullptr;
  if (o.json) {
    std::fputs((boost::json::serialize(retention::PlanJson(plan)) + "\n").c_str(), stdout);
  } else {
    std::fputs(retention::PlanTable(plan, o.verbose).c_str(), stdout);
  }
  if (o.action == "plan") return 0;
  if (!o.yes) {
    Say(fmt::format("dry run: {} deletions planned, none made; add --yes to make them",
                    plan.deletions.size()));
    return 0;
  }
  const auto report = retention::ApplyPlan(
      plan, *registry, static_cast<int>(policy->limits.concurrency),
      [](const retention::DeletionOutcome& d, std::size_t done, std::size_t total) {
        Say(fmt::format("[{}/{}] {} {}@{}{}{}", done, total, retention::OutcomeName(d.result),
                        d.deletion.repository, d.deletion.digest, d.message.empty() ? "" : ": ",
                        d.message));
      });
  Say(fmt::format("{} deleted, {} skipped, {} failed, {} not attempted", report.deleted,
                  report.skipped, report.failed, report.not_attempted));
  if (!o.report.empty()) {
    std::ofstream out(o.report);
    out << boost::json::serialize(ReportJson(plan, report)) << "\n";
    if (!out) {
      Say("cannot write the report to " + o.report);
      return 1;
    }
  }
  return report.failed > 0 || report.not_attempted > 0 ? 1 : 0;
}

}  // namespace drec
