// Unit tests of the lift stage: the verifier on deliberately broken IR, the
// statistics of random sparse lifts, determinism, and the initialisation law.
#include "core/LiftedGraph.h"
#include "core/PlanIO.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <numeric>

using namespace rslc;
using namespace rslc::lift;

namespace {

/// x -> a -> b -> y with the middle edge lifted as given.
LiftPlan chain(int64_t na, int64_t nb, LiftKind kind, int64_t degree = 0, double prob = 0,
               uint64_t seed = 1) {
  LiftPlan p;
  p.module = "m";
  p.lift = "l";
  p.seed = seed;
  p.vertices = {{"x", Role::Input, 1, 1, Activation::Identity, false, Aggregation::Sum},
                {"a", Role::Hidden, na, 1, Activation::Relu, true, Aggregation::Sum},
                {"b", Role::Hidden, nb, 1, Activation::Relu, true, Aggregation::Sum},
                {"y", Role::Output, 1, 1, Activation::Identity, true, Aggregation::Sum}};
  LiftSetting full, middle;
  middle.kind = kind, middle.degree = degree, middle.prob = prob;
  p.edges = {{0, 1, MapKind::Linear, {}, full, 0, {}}, {1, 2, MapKind::Linear, {}, middle, 1, {}},
             {2, 3, MapKind::Linear, {}, full, 2, {}}};
  p.groupNames = {"x->a", "a->b", "b->y"};
  return p;
}

std::string firstError(const LiftedGraph &g) {
  auto errors = verify(g);
  return errors.empty() ? "" : errors.front();
}

TEST(LiftVerifier, AcceptsEveryKind) {
  for (LiftKind k : {LiftKind::Full, LiftKind::Degree, LiftKind::Prob, LiftKind::Diagonal}) {
    LiftedGraph g = expand(chain(40, 40, k, 7, 0.2));
    EXPECT_EQ(firstError(g), "") << int(k);
  }
}

TEST(LiftVerifier, SourceOutOfFiber) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Degree, 5));
  g.edges[1].col[7] = 40;
  EXPECT_NE(firstError(g).find("copy 1 reads source copy 40, outside the fiber of 40"),
            std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, DuplicateLiftedEdge) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Degree, 5));
  g.edges[1].col[11] = g.edges[1].col[10];
  EXPECT_NE(firstError(g).find("copy 2 has a duplicate lifted edge"), std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, UnsortedRow) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Degree, 5));
  std::swap(g.edges[1].col[0], g.edges[1].col[4]);
  EXPECT_NE(firstError(g).find("copy 0 has unsorted sources"), std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, WrongDegree) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Degree, 5));
  g.edges[1].layout.rowLength = 4;
  EXPECT_NE(firstError(g).find("rows of length 4, explicit, stride 0; the lift kind gives length 5"),
            std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, NotAHomomorphism) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Degree, 5));
  g.edges[1].nu = 41; // claims a source fiber the base vertex does not have
  EXPECT_NE(firstError(g).find("pi is not a homomorphism"), std::string::npos) << firstError(g);
}

TEST(LiftVerifier, FiberSize) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Full));
  g.copyOffset[2] += 1;
  EXPECT_NE(firstError(g).find("fiber of 'a' has 41 copies, the lift says 40"), std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, TransposeMismatch) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Prob, 0, 0.3));
  std::swap(g.edges[1].tPos[0], g.edges[1].tPos[1]);
  EXPECT_NE(firstError(g).find("do not match the forward structure"), std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, RowPointers) {
  LiftedGraph g = expand(chain(40, 30, LiftKind::Prob, 0, 0.3));
  g.edges[1].rowPtr[5] = g.edges[1].rowPtr[6] + 1;
  EXPECT_NE(firstError(g).find("row pointers decrease at copy 5"), std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, Cycle) {
  LiftPlan p = chain(4, 4, LiftKind::Full);
  p.edges.push_back({2, 1, MapKind::Linear, {}, LiftSetting{}, 1, {}});
  LiftedGraph g = expand(p);
  EXPECT_NE(firstError(g).find("the base graph has a cycle"), std::string::npos) << firstError(g);
}

TEST(LiftVerifier, ParameterLayout) {
  LiftedGraph g = expand(chain(4, 4, LiftKind::Full));
  g.tensors[1].offset += 1;
  EXPECT_NE(firstError(g).find("tensors must tile the parameters"), std::string::npos)
      << firstError(g);
}

TEST(LiftVerifier, TiedEdgesLiftedDifferently) {
  LiftPlan p = chain(30, 30, LiftKind::Degree, 3);
  p.edges[2].group = 1; // tie b -> y to a -> b: different shapes
  p.groupNames.pop_back();
  LiftedGraph g = expand(p);
  EXPECT_NE(firstError(g).find("shares weights 'a->b'"), std::string::npos) << firstError(g);
}

// Every copy of b draws exactly k distinct sources, and every source copy of
// a is chosen about equally often: a chi-square test of uniformity.
TEST(LiftStatistics, DegreeSamplingIsUniform) {
  const int64_t na = 200, nb = 20000, k = 10;
  LiftedGraph g = expand(chain(na, nb, LiftKind::Degree, k));
  const LiftedEdge &e = g.edges[1];
  std::vector<double> hits(na, 0);
  for (int64_t j = 0; j < nb; ++j) {
    ASSERT_EQ(e.rowEnd(j) - e.rowBegin(j), uint64_t(k));
    for (uint64_t q = e.rowBegin(j); q < e.rowEnd(j); ++q)
      hits[e.col[q]] += 1;
  }
  double expected = double(nb) * k / na, chi2 = 0;
  for (double h : hits)
    chi2 += (h - expected) * (h - expected) / expected;
  // chi2 with 199 degrees of freedom: mean 199, sd ~20; 300 is > 5 sd out.
  EXPECT_LT(chi2, 300.0);
  EXPECT_GT(chi2, 100.0); // suspiciously uniform would be a bug too
}

// Bernoulli lifts: the edge count is Binomial(na*nb, p) and each row's count
// Binomial(na, p); check the mean and the variance of the row counts.
TEST(LiftStatistics, ProbabilityMatchesDeclared) {
  const int64_t na = 1000, nb = 5000;
  const double p = 0.02;
  LiftedGraph g = expand(chain(na, nb, LiftKind::Prob, 0, p));
  const LiftedEdge &e = g.edges[1];
  double n = double(na) * nb, mean = n * p, sd = std::sqrt(n * p * (1 - p));
  EXPECT_LT(std::fabs(double(e.count) - mean), 5 * sd) << e.count << " vs " << mean;
  double s = 0, s2 = 0;
  for (int64_t j = 0; j < nb; ++j) {
    double c = double(e.rowEnd(j) - e.rowBegin(j));
    s += c;
    s2 += c * c;
  }
  double rowMean = s / nb, rowVar = s2 / nb - rowMean * rowMean;
  EXPECT_NEAR(rowVar, na * p * (1 - p), 0.1 * na * p * (1 - p));
}

TEST(LiftDeterminism, SameOnEveryThreadCount) {
  LiftPlan p = chain(3000, 3000, LiftKind::Degree, 17);
  omp_set_num_threads(1);
  uint64_t one = structureHash(expand(p));
  omp_set_num_threads(2);
  uint64_t two = structureHash(expand(p));
  omp_set_num_threads(3);
  uint64_t three = structureHash(expand(p));
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
  p.seed = 2;
  EXPECT_NE(one, structureHash(expand(p)));
}

// Weights ~ scale * N(0, 1) / sqrt(fan_in): the sample variance of the a->b
// weights times fan_in must be near scale^2; biases start at zero.
TEST(LiftInit, NormalVarianceFollowsFanIn) {
  for (InitLaw law : {InitLaw::Normal, InitLaw::Uniform}) {
    LiftPlan p = chain(100, 2000, LiftKind::Degree, 25);
    p.init = {law, 2.0};
    for (PlanEdge &e : p.edges)
      e.init = p.init;
    LiftedGraph g = expand(p);
    std::vector<float> w(g.numParams);
    initParameters(g, w.data());
    const ParamTensor &t = g.tensors[1];
    double s = 0, s2 = 0;
    for (uint64_t k = 0; k < t.size; ++k) {
      s += w[t.offset + k];
      s2 += double(w[t.offset + k]) * w[t.offset + k];
    }
    double mean = s / t.size, var = s2 / t.size - mean * mean;
    EXPECT_NEAR(mean, 0.0, 0.02);
    EXPECT_NEAR(var * 25, 4.0, 0.1) << int(law);
    const ParamTensor &bias = g.tensors[g.vertexTensor[1]];
    for (uint64_t k = 0; k < bias.size; ++k)
      ASSERT_EQ(w[bias.offset + k], 0.0f);
    // The same on another thread count.
    omp_set_num_threads(1);
    std::vector<float> w1(g.numParams);
    initParameters(g, w1.data());
    omp_set_num_threads(2);
    EXPECT_EQ(w, w1);
  }
}

// Per-edge laws and bias laws: each edge's weights follow its own law and
// scale; biases with a law have variance scale^2 (no fan-in); the plan's
// text form keeps them.
TEST(LiftInit, PerEdgeAndBiasLaws) {
  LiftPlan p = chain(100, 2000, LiftKind::Degree, 25);
  p.edges[1].init = {InitLaw::Uniform, 3.0};
  p.edges[2].init = {InitLaw::Normal, 0.5};
  p.vertices[2].biasInit = {InitLaw::Normal, 0.3};
  std::string error;
  LiftPlan back;
  ASSERT_TRUE(deserializePlan(serializePlan(p), back, error)) << error;
  EXPECT_EQ(serializePlan(back), serializePlan(p));
  EXPECT_EQ(back.edges[1].init, p.edges[1].init);
  EXPECT_EQ(back.vertices[2].biasInit, p.vertices[2].biasInit);
  EXPECT_EQ(back.vertices[1].biasInit, zeroBiases);
  LiftedGraph g = expand(back);
  std::vector<float> w(g.numParams);
  initParameters(g, w.data());
  auto variance = [&](const ParamTensor &t, float *maxAbs) {
    double s = 0, s2 = 0;
    *maxAbs = 0;
    for (uint64_t k = 0; k < t.size; ++k) {
      s += w[t.offset + k];
      s2 += double(w[t.offset + k]) * w[t.offset + k];
      *maxAbs = std::max(*maxAbs, std::fabs(w[t.offset + k]));
    }
    return s2 / t.size - (s / t.size) * (s / t.size);
  };
  float maxAbs;
  EXPECT_NEAR(variance(g.tensors[1], &maxAbs) * 25, 9.0, 0.25); // fan-in 25
  EXPECT_LE(maxAbs, 3.0 * std::sqrt(3.0) / 5.0 + 1e-6);          // uniform's support
  EXPECT_NEAR(variance(g.tensors[2], &maxAbs) * 2000, 0.25, 0.03); // fan-in 2000
  EXPECT_NEAR(variance(g.tensors[g.vertexTensor[2]], &maxAbs), 0.09, 0.01);
  const ParamTensor &zero = g.tensors[g.vertexTensor[1]];
  for (uint64_t k = 0; k < zero.size; ++k)
    ASSERT_EQ(w[zero.offset + k], 0.0f);
  // A forged bias law on a vertex without bias is refused.
  p.vertices[0].biasInit = {InitLaw::Normal, 1.0};
  EXPECT_FALSE(deserializePlan(serializePlan(p), back, error));
}

} // namespace
