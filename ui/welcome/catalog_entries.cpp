#include "welcome/catalog_entries.h"

#include <climits>

#include "peregrine/model_catalog.h"

namespace peregrine::ui {

namespace {

Fit fitFor(qint64 needed, qint64 available) {
    if (available <= 0) return Fit::Tight;  // unknown: do not claim either way
    if (needed <= available * 8 / 10) return Fit::Fits;
    if (needed <= available) return Fit::Tight;
    return Fit::WontFit;
}

}  // namespace

QList<CatalogEntry> catalogEntries(const ModelCatalog& catalog, int requestedContext, qint64 available) {
    // estimate_run_bytes clamps to the model's training context, so INT_MAX means "the model's own".
    const int nCtx = requestedContext > 0 ? requestedContext : INT_MAX;
    const auto recommendation =
        available > 0 ? recommend_model(catalog, uint64_t(available) * 8 / 10, nCtx) : std::nullopt;
    QList<CatalogEntry> entries;
    for (const CatalogModel& model : catalog.models) {
        const CatalogFile& file = model.default_file();
        CatalogEntry e;
        e.id = QString::fromStdString(model.id);
        e.name = QString::fromStdString(model.name);
        e.description = QString::fromStdString(model.description);
        e.repo = QString::fromStdString(model.repo);
        e.file = QString::fromStdString(file.file);
        e.quantization = QString::fromStdString(file.quantization);
        e.license = QString::fromStdString(model.license);
        e.downloadBytes = qint64(file.size);
        e.contextLength = requestedContext > 0 ? qMin(requestedContext, model.context_length) : model.context_length;
        e.runBytes = qint64(estimate_run_bytes(model, file, nCtx));
        e.fit = fitFor(e.runBytes, available);
        e.recommended = recommendation && recommendation->model == &model;
        entries << e;
    }
    return entries;
}

}  // namespace peregrine::ui
