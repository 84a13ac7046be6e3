// What the planner decides on: drec's statistics of every repository a rule matches, checked,
// when the registry is reachable, against what the registry serves now (its tags, where each
// points, what each index lists). drec alone can be stale (a delete it never heard of, a tag
// moved while it was down); deleting by digest on a stale view could take a kept tag with it.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "registry_client/registry_client.h"
#include "retention/planner.h"
#include "retention/policy.h"
#include "store/store.h"

namespace drec::retention {

// The client of the registry the policy names; null when it names no url (drec's view alone).
// InvalidArgument naming the field for a bad url or ca_file.
Result<std::unique_ptr<RegistryClient>> RegistryClientFor(const RegistryAccess& access);

// The views of every repository in `store` that some rule of `policy` matches. With `registry`
// (may be null), tags and their digests are the registry's and every manifest is confirmed by
// it; any registry error fails the whole gathering, so no plan rests on half a view. Past
// `deadline` no further registry request starts (Unavailable): the API's query workers are few,
// and a slow registry must not hold them.
Result<std::vector<RepositoryView>> GatherViews(
    const Policy& policy, StoreReader& store, RegistryClient* registry,
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

}  // namespace drec::retention
