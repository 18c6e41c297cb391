#include "picker/model_list_model.h"

#include <QBrush>
#include <QColor>
#include <QLocale>

#include "stats/system_memory.h"

namespace peregrine::ui {
namespace {

QString parameters(qint64 count) {
    const QLocale locale;
    if (count >= 1'000'000'000) return locale.toString(count / 1e9, 'f', 1) + "B";
    if (count >= 1'000'000) return locale.toString(count / 1e6, 'f', 1) + "M";
    return locale.toString(count / 1e3, 'f', 0) + "K";
}

QColor fitColor(Fit fit) {
    switch (fit) {
        case Fit::Fits: return QColor(40, 150, 60);
        case Fit::Tight: return QColor(200, 140, 0);
        case Fit::WontFit: return QColor(200, 50, 50);
    }
    return {};
}

}  // namespace

ModelListModel::ModelListModel(QObject* parent) : QAbstractTableModel(parent) {}

int ModelListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(models_.size());
}

int ModelListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

MemoryEstimate ModelListModel::estimateAt(int row) const {
    return estimateMemory(models_[row], contextLength_, available_);
}

QVariant ModelListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const ModelCandidate& m = models_[index.row()];
    if (role == PathRole) return m.path;
    if (role == BrokenRole) return m.broken;
    if (role == FitRole) return m.broken ? QVariant() : QVariant(static_cast<int>(estimateAt(index.row()).fit));
    if (role == Qt::ToolTipRole) {
        if (m.broken) return tr("%1\nCannot be used: %2").arg(m.path, m.problem);
        const MemoryEstimate e = estimateAt(index.row());
        return tr("%1\nNeeds about %2 at context %3: weights %4 + KV cache %5 + work buffers %6.\n"
                  "Available: %7.")
            .arg(m.path, formatBytes(e.total))
            .arg(e.contextLength)
            .arg(formatBytes(e.weights), formatBytes(e.kvCache), formatBytes(e.workBuffers),
                 available_ > 0 ? formatBytes(available_) : tr("unknown"));
    }
    if (role == Qt::ForegroundRole) {
        if (m.broken) return QBrush(Qt::gray);
        if (index.column() == Memory) return QBrush(fitColor(estimateAt(index.row()).fit));
        return {};
    }
    if (role != Qt::DisplayRole && role != SortRole) return {};
    const bool sort = role == SortRole;
    switch (static_cast<Column>(index.column())) {
        case Name: return m.displayName;
        case Source: return m.source;
        case Architecture: return m.broken ? QVariant() : QVariant(m.architecture);
        case Parameters:
            if (m.broken) return {};
            return sort ? QVariant(m.parameterCount) : QVariant(parameters(m.parameterCount));
        case Quantization: return m.broken ? QVariant() : QVariant(m.quantization);
        case FileSize: return sort ? QVariant(m.fileSize) : QVariant(formatBytes(m.fileSize));
        case Context: return m.broken ? QVariant() : QVariant(m.contextLength);
        case Template: return m.broken ? QVariant() : QVariant(m.templateFamily);
        case Memory: {
            if (m.broken) return sort ? QVariant(-1) : QVariant(tr("broken: %1").arg(m.problem));
            const MemoryEstimate e = estimateAt(index.row());
            return sort ? QVariant(e.total) : QVariant(QStringLiteral("%1 · %2").arg(formatBytes(e.total), fitName(e.fit)));
        }
        case ColumnCount: break;
    }
    return {};
}

QVariant ModelListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (static_cast<Column>(section)) {
        case Name: return tr("Name");
        case Source: return tr("Source");
        case Architecture: return tr("Architecture");
        case Parameters: return tr("Parameters");
        case Quantization: return tr("Quantization");
        case FileSize: return tr("File size");
        case Context: return tr("Context");
        case Template: return tr("Chat template");
        case Memory: return tr("Memory needed");
        case ColumnCount: break;
    }
    return {};
}

Qt::ItemFlags ModelListModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    // Broken rows stay selectable so their reason can be read, but the dialog will not load them.
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable;
}

void ModelListModel::clear() {
    beginResetModel();
    models_.clear();
    endResetModel();
}

void ModelListModel::add(const ModelCandidate& model) {
    const int row = static_cast<int>(models_.size());
    beginInsertRows({}, row, row);
    models_.append(model);
    endInsertRows();
}

void ModelListModel::setBudget(int contextLength, qint64 availableBytes) {
    contextLength_ = contextLength;
    available_ = availableBytes;
    if (!models_.isEmpty()) {
        emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1),
                         {Qt::DisplayRole, Qt::ToolTipRole, Qt::ForegroundRole, FitRole, SortRole});
    }
}

int ModelListModel::rowOfPath(const QString& path) const {
    for (int row = 0; row < models_.size(); ++row) {
        if (models_[row].path == path) return row;
    }
    return -1;
}

}  // namespace peregrine::ui
