// The welcome page's view of the model catalogue: each model's default download with what it needs to run
// here and whether that fits the RAM available now, plus the one to recommend. Plain values, no widgets,
// so the fit and recommendation rules are tested without a window.
#pragma once

#include <QList>
#include <QString>
#include <QtGlobal>

#include "picker/memory_fit.h"

namespace peregrine {
struct ModelCatalog;
}

namespace peregrine::ui {

struct CatalogEntry {
    QString id;
    QString name;
    QString description;
    QString repo;          // Hugging Face repository id
    QString file;          // the default quantization's file in that repository
    QString quantization;
    QString license;
    qint64 downloadBytes = 0;
    int contextLength = 0;  // the context the run estimate assumes
    qint64 runBytes = 0;    // weights + KV cache at contextLength + runtime margin
    Fit fit = Fit::Tight;
    bool recommended = false;
};

// One entry per catalogue model, in catalogue order. requestedContext 0: each model's training context
// (what the app loads with when the context setting is 0). available <= 0: unknown, every entry is Tight
// and nothing is recommended. Fit uses the picker's thresholds (<= 80% of available: fits; <= 100%:
// tight); the recommendation is recommend_model() over 80% of available, i.e. the best that fits comfortably.
QList<CatalogEntry> catalogEntries(const ModelCatalog& catalog, int requestedContext, qint64 available);

}  // namespace peregrine::ui
