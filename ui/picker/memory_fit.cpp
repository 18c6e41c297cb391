#include "picker/memory_fit.h"

#include <QObject>

#include <algorithm>

#include "picker/model_candidate.h"

namespace peregrine::ui {

MemoryEstimate estimateMemory(const ModelCandidate& model, int requestedContext, qint64 available) {
    MemoryEstimate estimate;
    estimate.contextLength = requestedContext > 0 ? requestedContext : model.contextLength;
    estimate.weights = model.weightBytes;
    estimate.kvCache = model.kvBytesPerToken() * estimate.contextLength;
    // Activations, logits and per-thread scratch: small next to the weights for real models; 5% + 32 MiB
    // covers what llama.cpp-style engines use at batch 512.
    estimate.workBuffers = estimate.weights / 20 + (32LL << 20);
    estimate.total = estimate.weights + estimate.kvCache + estimate.workBuffers;
    if (available <= 0) {
        estimate.fit = Fit::Tight;  // unknown: do not claim either way
    } else if (estimate.total <= available * 8 / 10) {
        estimate.fit = Fit::Fits;
    } else if (estimate.total <= available) {
        estimate.fit = Fit::Tight;
    } else {
        estimate.fit = Fit::WontFit;
    }
    return estimate;
}

QString fitName(Fit fit) {
    switch (fit) {
        case Fit::Fits: return QObject::tr("fits");
        case Fit::Tight: return QObject::tr("tight");
        case Fit::WontFit: return QObject::tr("won't fit");
    }
    return {};
}

}  // namespace peregrine::ui
