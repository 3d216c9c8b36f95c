//===- Checkpoint.cpp - a model's checkpoints on disk -------------------===//
//
// The bytes are core/CheckpointFormat.h's; this file takes them from and to
// a model (moments in the model's precision, converted to doubles) and to
// and from disk (core/Files.h: atomic writes, bounded reads of regular
// files), and refuses another model's checkpoint or a state the
// integrators could not use before changing anything.
//
//===----------------------------------------------------------------------===//
#include "Checkpoint.h"

#include "core/CheckpointFormat.h"
#include "core/Files.h"
#include "core/PlanIO.h"

#include <algorithm>

namespace rslc::rt {

namespace {

/// What identifies the model a checkpoint belongs to.
std::string identity(const ModelBase &m) {
  return lift::serializePlan(m.graph().plan) + "\nreal " + std::to_string(m.realBytes());
}

/// Moment array `a` of the model as doubles (empty if it has none).
std::vector<double> momentAsDoubles(const ModelBase &model, ModelBase::Array a) {
  const void *data = model.array(a);
  const size_t P = model.graph().numParams;
  if (!data)
    return {};
  if (model.realBytes() == 8)
    return {static_cast<const double *>(data), static_cast<const double *>(data) + P};
  return {static_cast<const float *>(data), static_cast<const float *>(data) + P};
}

void momentFromDoubles(ModelBase &model, ModelBase::Array a, const std::vector<double> &values) {
  void *data = model.array(a);
  if (model.realBytes() == 8)
    std::copy(values.begin(), values.end(), static_cast<double *>(data));
  else
    std::copy(values.begin(), values.end(), static_cast<float *>(data));
}

} // namespace

void saveCheckpoint(const ModelBase &model, const std::string &path) {
  ckpt::Contents c;
  c.identity = identity(model);
  c.note = model.note;
  c.state = {model.train.integrator, model.train.step, model.train.flowTime,
             model.train.stepSize};
  c.moment1 = momentAsDoubles(model, ModelBase::Array::Moment1);
  c.moment2 = momentAsDoubles(model, ModelBase::Array::Moment2);
  model.paramsToDouble(c.theta);
  // A temporary file beside the target, flushed to disk, renamed over it:
  // the old checkpoint survives any failure before that.
  if (std::string why = files::writeAtomically(path, ckpt::encode(c)); !why.empty())
    throw Error{RSLC_ERROR_IO, "cannot write checkpoint '" + path + "': " + why +
                                   " (the previous checkpoint is unchanged)"};
}

void loadCheckpoint(ModelBase &model, const std::string &path) {
  // A checkpoint of this model holds its identity, three vectors of its
  // parameters and a few numbers: anything much longer is not one.
  const std::string mine = identity(model);
  const size_t P = model.graph().numParams;
  const uint64_t most = mine.size() + 3 * 8 * (P + 1) + 4096;
  std::string data;
  bool whole = true;
  if (std::string why = files::readRegularPrefix(path, most, data, &whole); !why.empty())
    throw Error{RSLC_ERROR_IO, "cannot read checkpoint '" + path + "': " + why};
  // Longer than any checkpoint of this model: another model's (say which),
  // or not a checkpoint.
  ckpt::Contents c;
  if (!whole) {
    c.identity = ckpt::identityOf(data);
    if (c.identity.empty() && data.compare(0, 8, "RSLCCKPT") != 0)
      throw Error{RSLC_ERROR_IO, "'" + path + "' is not an rslc checkpoint"};
    if (c.identity.empty() || c.identity == mine)
      throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' is corrupted (longer than a "
                                                         "checkpoint of this model)"};
  } else {
    try {
      c = ckpt::decode(data, path);
    } catch (const ckpt::FormatError &e) {
      throw Error{RSLC_ERROR_IO, e.what()};
    }
  }
  if (c.identity != mine) {
    lift::LiftPlan other;
    std::string err, what = "another model";
    if (lift::deserializePlan(c.identity.substr(0, c.identity.rfind("\nreal ")), other, err))
      what = "lift '" + other.lift + "' of '" + other.module + "' (seed " +
             std::to_string(other.seed) + ")";
    const lift::LiftPlan &p = model.graph().plan;
    std::string self = "lift '" + p.lift + "' of '" + p.module + "' (seed " + std::to_string(p.seed) + ")";
    if (what == self)
      throw Error{RSLC_ERROR_OPTION, "checkpoint '" + path + "' belongs to another build of " + self +
                                         ": its fiber sizes, lift kinds, dimensions or precision differ"};
    throw Error{RSLC_ERROR_OPTION, "checkpoint '" + path + "' belongs to " + what + ", not to " + self};
  }
  if (c.theta.size() != P)
    throw Error{RSLC_ERROR_OPTION, "checkpoint '" + path + "' holds " + std::to_string(c.theta.size()) +
                                       " parameters; the model has " + std::to_string(P)};
  // The checksum catches damage, not a forged or buggy writer: refuse a
  // state the integrators could not use (an Adam moment of the wrong length
  // would be read out of bounds) before changing the model.
  if (std::string why = ckpt::unusable(c, P); !why.empty())
    throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' is corrupted (" + why + ")"};
  model.paramsFromDouble(c.theta);
  model.setMoments(c.moment2.empty() ? c.moment1.empty() ? 0 : 1 : 2);
  if (!c.moment1.empty())
    momentFromDoubles(model, ModelBase::Array::Moment1, c.moment1);
  if (!c.moment2.empty())
    momentFromDoubles(model, ModelBase::Array::Moment2, c.moment2);
  model.train = {c.state.integrator, c.state.step, c.state.flowTime, c.state.stepSize};
  model.note = c.note;
}

} // namespace rslc::rt
