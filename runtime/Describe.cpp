//===- Describe.cpp - the lifted network as JSON (rslc_describe) ---------===//
#include "Describe.h"

#include "core/EdgeMaps.h"
#include "core/Kinds.h"
#include "core/LiftKinds.h"

#include <nlohmann/json.hpp>

namespace rslc::rt {

std::string describe(const ModelBase &model) {
  using nlohmann::json;
  const lift::LiftedGraph &g = model.graph();
  const lift::LiftPlan &p = g.plan;
  json vertices = json::array(), edges = json::array(), tensors = json::array();
  for (size_t v = 0; v < p.vertices.size(); ++v) {
    const lift::PlanVertex &pv = p.vertices[v];
    json j = {{"name", pv.name},       {"role", keyword(pv.role)}, {"copies", pv.copies},
              {"shape", pv.shape},     {"dim", pv.dim},            {"activation", keyword(pv.act)},
              {"bias", pv.bias},       {"aggregation", keyword(pv.agg)},
              {"causal", pv.causal},   {"tensor", g.vertexTensor[v]}};
    if (pv.act == Activation::Softmax)
      j["axis"] = pv.axis < 0 ? int64_t(pv.shape.size()) - 1 : pv.axis;
    vertices.push_back(j);
  }
  for (const lift::PlanEdge &pe : p.edges) {
    const lift::LiftedEdge &le = g.edges[&pe - p.edges.data()];
    json j = {{"src", p.vertices[pe.src].name},
              {"dst", p.vertices[pe.dst].name},
              {"map", keyword(pe.map)},
              {"lift", lift::liftSettingText(pe.lift)},
              {"lifted_edges", le.count},
              {"source_components", lift::edgeFibers(p, pe).sourceComponents},
              {"tensor", pe.group == lift::noGroup ? -1 : int64_t(pe.group)}};
    if (pe.map == MapKind::Conv || pe.map == MapKind::MaxPool || pe.map == MapKind::AvgPool) {
      j["kernel"] = pe.params.kernel;
      j["stride"] = pe.params.stride;
      j["padding"] = pe.params.padding;
      if (pe.map == MapKind::Conv)
        j["dilation"] = pe.params.dilation;
    }
    edges.push_back(j);
  }
  for (const lift::ParamTensor &t : g.tensors)
    tensors.push_back({{"name", t.name},
                       {"offset", t.offset},
                       {"size", t.size},
                       {"vertex", t.ofVertex ? json(p.vertices[t.owner].name) : json(nullptr)}});
  json variants = json::array();
  for (uint32_t v = 0; v < rslc_num_kernel_variants; ++v)
    variants.push_back(rslc_kernel_variants[v].cpu);
  json out = {{"module", p.module},
              {"kernels", runnableVariant() ? json(runnableVariant()->cpu) : json(nullptr)},
              {"kernel_variants", variants},
              {"lift", p.lift},
              {"seed", p.seed},
              {"readout", keyword(p.readout)},
              {"real_bytes", model.realBytes()},
              {"input_size", model.inputSize},
              {"output_size", model.outputSize},
              {"num_params", g.numParams},
              {"vertices", vertices},
              {"edges", edges},
              {"tensors", tensors}};
  return out.dump();
}

} // namespace rslc::rt
