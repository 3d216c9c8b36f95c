//===- train_step.cpp - time one training step of a generated library -----===//
//
//   bench_train_step MODEL.so [BATCH=256] [REPS=20] [mse|ce] [all|grad]
//
// Prints, in ms (median of REPS after a warm-up): inference (rslc_forward),
// loss and gradient (rslc_loss_and_grad), and one full SGD step inside
// rslc_train (forward, backward, parameter update), plus lifted edges x
// samples per second for the step, and the peak resident memory. With
// `grad`, only loss and gradient (forward and backward, no trainer): for
// profiling the kernels and their orchestration.
// Threads: OMP_NUM_THREADS.
//
//===----------------------------------------------------------------------===//
#include "rslc_dl.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

template <typename F> double medianMs(int reps, F f) {
  f(); // warm-up
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void require(int status, const rslc_api &api, rslc_model *m) {
  if (status) {
    std::fprintf(stderr, "bench_train_step: %s\n", api.last_error(m));
    std::exit(1);
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_train_step MODEL.so [BATCH] [REPS] [mse|ce]\n");
    return 2;
  }
  rslc_api api = rslc_dl_open_or_exit(argv[1]);
  int64_t batch = argc > 2 ? std::atoll(argv[2]) : 256;
  int reps = argc > 3 ? std::atoi(argv[3]) : 20;
  bool ce = argc > 4 && std::string(argv[4]) == "ce";
  bool gradOnly = argc > 5 && std::string(argv[5]) == "grad";
  if (api.real_size() != 4 || batch <= 0 || reps <= 0) {
    std::fprintf(stderr, "bench_train_step: needs a float model, BATCH > 0, REPS > 0\n");
    return 2;
  }
  rslc_model *m;
  require(api.create(0, &m), api, nullptr);
  int64_t nin = api.input_size(m), nout = api.output_size(m);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> x(batch * nin), y(batch * (ce ? 1 : nout)), out(batch * nout);
  for (float &v : x)
    v = normal(rng);
  for (int64_t i = 0; i < int64_t(y.size()); ++i)
    y[i] = ce ? float(rng() % nout) : normal(rng);
  rslc_loss loss = ce ? RSLC_LOSS_CROSS_ENTROPY : RSLC_LOSS_MSE;

  double L = 0;
  auto lossAndGrad = [&] {
    require(api.zero_grads(m), api, m);
    require(api.loss_and_grad(m, x.data(), y.data(), batch, loss, &L), api, m);
  };
  if (gradOnly) {
    std::printf("  loss+gradient  %9.3f ms\n", medianMs(reps, lossAndGrad));
    api.destroy(m);
    return 0;
  }
  double fwd = medianMs(reps, [&] { require(api.forward(m, x.data(), batch, out.data()), api, m); });
  double grad = medianMs(reps, lossAndGrad);
  rslc_train_options o;
  api.default_train_options(&o);
  o.integrator = RSLC_SGD, o.momentum = 0, o.loss = loss;
  o.step_size = 1e-9; // timing only: tiny steps never diverge, whatever the width
  o.log_every = 0;
  // A call evaluates the final loss (and accuracy) once after its steps:
  // the difference of a call of reps + 1 steps and one of 1 step leaves
  // the cost of reps steps.
  auto train = [&](int64_t steps) {
    o.max_steps = steps;
    return medianMs(3, [&] {
      require(api.train(m, &o, x.data(), y.data(), batch, nullptr, nullptr, 0, nullptr), api, m);
    });
  };
  double step = (train(reps + 1) - train(1)) / reps;
  double edges = double(api.num_lifted_edges(m));
  std::printf("%s: %lld lifted edges, %lld parameters, batch %lld, %s\n", api.blueprint_name(),
              (long long)edges, (long long)api.num_params(m), (long long)batch, ce ? "ce" : "mse");
  std::printf("  inference      %9.3f ms\n  loss+gradient  %9.3f ms\n  SGD step       %9.3f ms"
              "  (%.3g lifted edges x samples / s)\n",
              fwd, grad, step, edges * double(batch) / (step * 1e-3));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("  peak resident  %9.1f MiB\n", double(usage.ru_maxrss) / 1024);
  api.destroy(m);
  return 0;
}
