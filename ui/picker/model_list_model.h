// The picker's table: one row per model found, with the columns users compare models by, and the memory
// estimate at the chosen context against available memory (fits / tight / won't fit). Broken files stay
// in the list, greyed, with the reason.
#pragma once

#include <QAbstractTableModel>
#include <QList>

#include "picker/memory_fit.h"
#include "picker/model_candidate.h"

namespace peregrine::ui {

class ModelListModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { Name, Source, Architecture, Parameters, Quantization, FileSize, Context, Template, Memory, ColumnCount };
    enum Roles { PathRole = Qt::UserRole + 1, BrokenRole, FitRole, SortRole };

    explicit ModelListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;

    void clear();
    void add(const ModelCandidate& model);
    // The context used for the KV part of the estimate (0: each model's own) and the memory it is
    // compared against; changing either re-evaluates every row.
    void setBudget(int contextLength, qint64 availableBytes);

    const ModelCandidate& at(int row) const { return models_[row]; }
    MemoryEstimate estimateAt(int row) const;
    int rowOfPath(const QString& path) const;

private:
    QList<ModelCandidate> models_;
    int contextLength_ = 0;
    qint64 available_ = 0;
};

}  // namespace peregrine::ui
