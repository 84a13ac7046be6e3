// drec replay and drec backfill (docs/backfill.md): history fed into a registry's store from files,
// without HTTP, through the same semantics as notifications and the store's exactly-once Apply.
#pragma once

#include <map>
#include <string>

namespace drec {

// Runs `drec replay [config.yml] [flags] [--registry NAME] FILE...` (argv[0] is "replay"): one
// notification envelope per line. Exit status: 0 done, 1 a bad line (the good ones are applied),
// an unreadable file or a store failure, 2 bad usage or configuration.
int RunReplay(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

// Runs `drec backfill [config.yml] [flags] [--registry NAME] [--format auto|text|json] LOG...`
// (argv[0] is "backfill"): the registry's own log. Exit status as RunReplay's, without bad lines
// (a line that is no manifest request is simply not used).
int RunBackfill(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

}  // namespace drec
