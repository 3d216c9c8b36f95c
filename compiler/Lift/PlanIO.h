//===- PlanIO.h - LiftPlan <-> text, embedded in generated libraries ------===//
#ifndef RSLC_LIFT_PLANIO_H
#define RSLC_LIFT_PLANIO_H

#include "Lift/LiftPlan.h"

#include <string>

namespace rslc::lift {

/// A line-oriented text form: `rslc-plan 1`, then the plan's fields.
std::string serializePlan(const LiftPlan &plan);

/// Parses serializePlan's output; on failure returns false and sets `error`.
bool deserializePlan(const std::string &text, LiftPlan &plan, std::string &error);

} // namespace rslc::lift

#endif
