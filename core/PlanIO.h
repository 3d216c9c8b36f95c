//===- PlanIO.h - LiftPlan <-> text, embedded in generated libraries ------===//
#ifndef RSLC_CORE_PLANIO_H
#define RSLC_CORE_PLANIO_H

#include "LiftPlan.h"

#include <string>

namespace rslc::lift {

/// A line-oriented text form: `rslc-plan 1`, then the plan's fields.
std::string serializePlan(const LiftPlan &plan);

/// Parses serializePlan's output; on failure returns false and sets `error`.
/// Every enum is range-checked and every edge's ends and weight group are
/// checked to be in range, so a damaged plan is refused, not misread.
bool deserializePlan(const std::string &text, LiftPlan &plan, std::string &error);

} // namespace rslc::lift

#endif
