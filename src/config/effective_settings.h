// The settings in force as text: what `drec --check-config` prints, and how a reload tells
// which changed settings only a restart applies. Secrets are never part of the text.
#pragma once

#include <string>
#include <vector>

#include "config/draft.h"
#include "config/settings.h"

namespace drec::config {

// One line a setting, "key: value  # source", in --help order, after a line saying the
// configuration is valid. Tokens show as redacted and URIs without their password, so the
// output can go into a CI log or a ticket.
std::string DescribeSettings(const Draft& draft);

// The keys whose values differ between `before` and `after`, in --help order, compared as
// --help shows them (auth.basic by user names); secrets are compared, never returned. The
// original DREC's dial_info keys are left out: they only feed storage.mongodb.uri, which is.
std::vector<std::string> ChangedSettings(const Settings& before, const Settings& after);

// `uri` with the password of its user information and any password= parameter replaced by
// "***": what a log or --check-config may show of a connection string.
std::string RedactUri(const std::string& uri);

}  // namespace drec::config
