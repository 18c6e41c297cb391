#include "welcome/download_text.h"

#include <QObject>

#include <cmath>

#include "stats/system_memory.h"

namespace peregrine::ui {

QString durationText(double seconds) {
    const qint64 s = qint64(std::ceil(std::max(0.0, seconds)));
    if (s < 60) return QObject::tr("%1 s").arg(s);
    if (s < 3600) return QObject::tr("%1 min").arg((s + 30) / 60);
    return QObject::tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

QString downloadProgressText(const DownloadProgress& progress) {
    if (progress.phase == DownloadPhase::CheckingPart) {
        return QObject::tr("Checking the %1 downloaded before…").arg(formatBytes(qint64(progress.resumed_from)));
    }
    QStringList parts;
    parts << (progress.bytes_total > 0 ? QObject::tr("%1 of %2").arg(formatBytes(qint64(progress.bytes_done)),
                                                                      formatBytes(qint64(progress.bytes_total)))
                                       : formatBytes(qint64(progress.bytes_done)));
    if (progress.bytes_per_second > 0) parts << QObject::tr("%1/s").arg(formatBytes(qint64(progress.bytes_per_second)));
    if (progress.eta_seconds >= 0) parts << QObject::tr("about %1 left").arg(durationText(progress.eta_seconds));
    if (progress.attempt > 1) parts << QObject::tr("attempt %1").arg(progress.attempt);
    return parts.join(QStringLiteral(" · "));
}

QString downloadFailureText(DownloadError::Kind kind, const QString& message) {
    QString what;
    switch (kind) {
        case DownloadError::Kind::Network:
            what = QObject::tr("The connection failed. Retry resumes from what was already downloaded.");
            break;
        case DownloadError::Kind::NotFound:
            what = QObject::tr("The file was not found on the server (HTTP 404). "
                               "Check the download source in the settings.");
            break;
        case DownloadError::Kind::AccessDenied:
            what = QObject::tr("The server refused access: this model needs a Hugging Face token (set HF_TOKEN).");
            break;
        case DownloadError::Kind::HashMismatch:
            what = QObject::tr("The downloaded file did not match its checksum and was deleted. "
                               "Retry downloads it again.");
            break;
        case DownloadError::Kind::DiskFull:
            what = QObject::tr("There is not enough free disk space. Free some space, then retry.");
            break;
        case DownloadError::Kind::Filesystem:
            what = QObject::tr("The file could not be written to the models folder.");
            break;
        case DownloadError::Kind::Http:
        case DownloadError::Kind::BadResponse:
            what = QObject::tr("The server gave an unexpected answer.");
            break;
        case DownloadError::Kind::Cancelled:
            what = QObject::tr("Cancelled.");
            break;
    }
    return message.isEmpty() ? what : what + QLatin1Char('\n') + message;
}

}  // namespace peregrine::ui
