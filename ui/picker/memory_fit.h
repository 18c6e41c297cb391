// Will this model run here? Weights + KV cache at the chosen context + working buffers, against the
// memory the system has available. Rough by design (the engine's scratch use is estimated), so the
// thresholds leave room: "tight" means it may load but will compete with other programs.
#pragma once

#include <QString>
#include <QtGlobal>

namespace peregrine::ui {

struct ModelCandidate;

enum class Fit { Fits, Tight, WontFit };

struct MemoryEstimate {
    int contextLength = 0;  // the context the estimate is for
    qint64 weights = 0;
    qint64 kvCache = 0;
    qint64 workBuffers = 0;
    qint64 total = 0;
    Fit fit = Fit::WontFit;
};

// requestedContext 0: the model's training context. available: bytes of RAM (or VRAM) free.
MemoryEstimate estimateMemory(const ModelCandidate& model, int requestedContext, qint64 available);
QString fitName(Fit fit);  // "fits", "tight", "won't fit"

}  // namespace peregrine::ui
