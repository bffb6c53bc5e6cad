package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.BoundedIterator;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.SharedDbFiles;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;

import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyMetaData;
import org.rocksdb.ExportImportFilesMetaData;
import org.rocksdb.LevelMetaData;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.SstFileMetaData;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Restores snapshots of other key-group ranges (rescaling). All snapshots are downloaded at once.
 * By default their files are moved: each snapshot whose SST files lie in the key groups it claims
 * is opened as a temporary database, its column families exported (hard links) and imported into
 * one new database, several snapshots' files into one column family, and the result is clipped to
 * the new range, so that data of other key groups is physically gone. A snapshot that does not
 * qualify has its entries copied instead, and the restore logs why.
 *
 * <p>With moving files off, the snapshot with the largest overlap is opened as the base (if its
 * overlap reaches the configured threshold) and clipped; the entries of the others are copied.
 */
final class RescalingRestore<K> {

    private static final Logger LOG = LoggerFactory.getLogger(RescalingRestore.class);

    private final RestoreContext<K> context;
    private final List<IncrementalRemoteKeyedStateHandle> handles;

    private final List<IncrementalSnapshotMetaData> metaData;
    private final List<Path> downloadDirectories;

    /** Column families with data outside the backend's range, clipped in the background. */
    private final List<ColumnFamilyHandle> toClip = new ArrayList<>();

    RescalingRestore(RestoreContext<K> context, List<IncrementalRemoteKeyedStateHandle> handles) {
        this.context = context;
        this.handles = handles;
        this.metaData = new ArrayList<>(handles.size());
        this.downloadDirectories = new ArrayList<>(handles.size());
    }

    RocksDBIncrementalRestoreOperation.Result restore() throws Exception {
        // read every meta data and check every name before downloading anything
        final List<Long> checkpointIds = new ArrayList<>(handles.size());
        final List<RocksDBStateDownloader.Download> downloads = new ArrayList<>(handles.size());
        long downloadedBytes = 0;
        for (IncrementalRemoteKeyedStateHandle handle : handles) {
            IncrementalSnapshotMetaData snapshotMetaData =
                    context.readMetaData(handle.getMetaDataStateHandle(), handle.getCheckpointId());
            metaData.add(snapshotMetaData);
            checkpointIds.add(handle.getCheckpointId());
            List<StateFile> files = SnapshotFiles.filesOf(handle, snapshotMetaData);
            for (StateFile file : files) {
                downloadedBytes += file.getSize();
            }
            Path directory = context.newTemporaryDirectory("rescale");
            downloadDirectories.add(directory);
            downloads.add(
                    new RocksDBStateDownloader.Download(
                            handle.getCheckpointId(), files, directory));
        }
        final Map<String, StateMetaInfoSnapshot> metaInfos =
                StateRegistration.newestMetaInfos(metaData, checkpointIds);

        try {
            final long downloadStart = System.nanoTime();
            context.downloader.downloadAll(downloads, context.cancelStreamRegistry);
            final long downloadNanos = System.nanoTime() - downloadStart;
            final RocksDBInstance instance =
                    context.settings.isMoveFiles()
                            ? restoreByMovingFiles(metaInfos)
                            : restoreByCopying(metaInfos, allHandles(), "moving files is off");
            // the files are not those of one checkpoint any more: nothing to reuse
            return new RocksDBIncrementalRestoreOperation.Result(
                    instance, -1L, Collections.emptyMap(), downloadedBytes, downloadNanos);
        } finally {
            for (Path directory : downloadDirectories) {
                FileUtils.deleteDirectoryQuietly(directory.toFile());
            }
        }
    }

    private List<Integer> allHandles() {
        List<Integer> all = new ArrayList<>(handles.size());
        for (int i = 0; i < handles.size(); i++) {
            all.add(i);
        }
        return all;
    }

    // ------------------------------------------------------------------------
    //  moving files
    // ------------------------------------------------------------------------

    private RocksDBInstance restoreByMovingFiles(Map<String, StateMetaInfoSnapshot> metaInfos)
            throws Exception {
        if (handles.size() == 1) {
            // one snapshot: its download is the database already, only clipping is left
            LOG.info(
                    "Restoring key groups {} from the files of checkpoint {} of key groups {},"
                            + " clipped.",
                    context.keyGroupRange.prettyPrintInterval(),
                    handles.get(0).getCheckpointId(),
                    handles.get(0).getKeyGroupRange().prettyPrintInterval());
            return restoreFromBase(metaInfos, 0, Collections.singletonList(0));
        }
        final Path exportRoot = context.newTemporaryDirectory("export");
        final Map<String, List<ExportImportFilesMetaData>> exports = new LinkedHashMap<>();
        final List<KeyGroupRange> exportedRanges = new ArrayList<>();
        final List<Integer> fallback = new ArrayList<>();
        try {
            Files.createDirectory(exportRoot);
            for (int i = 0; i < handles.size(); i++) {
                String reason = exportIfInClaimedRange(i, exportRoot, exportedRanges, exports);
                if (reason != null) {
                    LOG.info(
                            "Restoring the key groups {} of checkpoint {} ({}) by copying entries"
                                    + " instead of moving files: {}.",
                            handles.get(i).getKeyGroupRange().prettyPrintInterval(),
                            handles.get(i).getCheckpointId(),
                            handles.get(i).getStateHandleId(),
                            reason);
                    fallback.add(i);
                }
            }
            if (exportedRanges.isEmpty()) {
                return restoreByCopying(metaInfos, fallback, "no snapshot could move its files");
            }

            final RocksDBInstance instance = openEmpty();
            try {
                final Map<String, ColumnFamilyHandle> columnFamilies = new LinkedHashMap<>();
                for (Map.Entry<String, List<ExportImportFilesMetaData>> export :
                        exports.entrySet()) {
                    columnFamilies.put(
                            export.getKey(),
                            instance.importColumnFamily(export.getKey(), export.getValue()));
                }
                clip(instance, columnFamilies.values(), context.keyGroupRange);
                for (int i : fallback) {
                    copyInClaimedRange(instance, i, columnFamilies);
                }
                registerAll(instance, metaInfos, columnFamilies);
                LOG.info(
                        "Restored key groups {} by moving the files of {} and copying the entries"
                                + " of {} of {} snapshots.",
                        context.keyGroupRange.prettyPrintInterval(),
                        exportedRanges.size(),
                        fallback.size(),
                        handles.size());
                return instance;
            } catch (Throwable t) {
                instance.close();
                FileUtils.deleteDirectoryQuietly(context.dbDirectory);
                throw t;
            }
        } finally {
            for (List<ExportImportFilesMetaData> exported : exports.values()) {
                IOUtils.closeAllQuietly(exported);
            }
            FileUtils.deleteDirectoryQuietly(exportRoot.toFile());
        }
    }

    /**
     * Exports the column families of one snapshot if every SST file lies in the key groups the
     * snapshot claims, and no other exported snapshot claims any of them: then the imports cannot
     * overlap.
     *
     * @return why the snapshot's files cannot be moved, or null if they were exported
     */
    @Nullable
    private String exportIfInClaimedRange(
            int index,
            Path exportRoot,
            List<KeyGroupRange> exportedRanges,
            Map<String, List<ExportImportFilesMetaData>> exports)
            throws Exception {
        final KeyGroupRange claimed = handles.get(index).getKeyGroupRange();
        for (KeyGroupRange other : exportedRanges) {
            if (other.getIntersection(claimed).getNumberOfKeyGroups() > 0) {
                return "another snapshot claims some of its key groups as well (" + other + ")";
            }
        }
        final List<String> blobFiles = SharedDbFiles.blobFilesIn(downloadDirectories.get(index));
        if (!blobFiles.isEmpty()) {
            // an imported SST file would refer to values in blob files the import leaves behind
            return "its values lie partly in blob files ("
                    + blobFiles.get(0)
                    + "), which RocksDB cannot import";
        }
        final List<StateMetaInfoSnapshot> snapshotMetaInfos =
                metaData.get(index).getStateMetaInfoSnapshots();
        final List<ColumnFamilyHandle> columnFamilies = new ArrayList<>(snapshotMetaInfos.size());
        // no compaction may replace a file while it is being exported (FLINK-38415)
        try (RocksDBInstance source =
                context.opener.open(
                        downloadDirectories.get(index).toFile(),
                        RocksDBInstance.names(StateRegistration.names(snapshotMetaInfos)),
                        columnFamilies,
                        false)) {
            for (int i = 0; i < columnFamilies.size(); i++) {
                String outside = fileOutside(source, columnFamilies.get(i), claimed);
                if (outside != null) {
                    return "the SST file "
                            + outside
                            + " of state '"
                            + snapshotMetaInfos.get(i).getName()
                            + "' holds keys outside the key groups the snapshot claims";
                }
            }
            try (Checkpoint checkpoint = Checkpoint.create(source.getDb())) {
                for (int i = 0; i < columnFamilies.size(); i++) {
                    ColumnFamilyHandle columnFamily = columnFamilies.get(i);
                    if (source.getDb().getColumnFamilyMetaData(columnFamily).fileCount() == 0) {
                        continue;
                    }
                    ExportImportFilesMetaData exported =
                            checkpoint.exportColumnFamily(
                                    columnFamily, exportRoot.resolve(index + "-" + i).toString());
                    exports.computeIfAbsent(
                                    snapshotMetaInfos.get(i).getName(), name -> new ArrayList<>())
                            .add(exported);
                }
            }
        }
        exportedRanges.add(claimed);
        return null;
    }

    /** The name of an SST file of the column family with keys outside {@code range}, if any. */
    @Nullable
    private String fileOutside(
            RocksDBInstance source, ColumnFamilyHandle columnFamily, KeyGroupRange range) {
        final ColumnFamilyMetaData columnFamilyMetaData =
                source.getDb().getColumnFamilyMetaData(columnFamily);
        for (LevelMetaData level : columnFamilyMetaData.levels()) {
            for (SstFileMetaData file : level.files()) {
                if (!context.prefixes.within(file.smallestKey(), file.largestKey(), range)) {
                    return file.fileName();
                }
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------
    //  copying entries
    // ------------------------------------------------------------------------

    /**
     * Opens the snapshot with the largest overlap as the base, if it reaches the threshold, and
     * copies the entries of the others.
     */
    private RocksDBInstance restoreByCopying(
            Map<String, StateMetaInfoSnapshot> metaInfos, List<Integer> indexes, String why)
            throws Exception {
        int base = -1;
        double baseFraction = -1.0;
        for (int i : indexes) {
            KeyGroupRange claimed = handles.get(i).getKeyGroupRange();
            double fraction =
                    (double) claimed.getIntersection(context.keyGroupRange).getNumberOfKeyGroups()
                            / claimed.getNumberOfKeyGroups();
            if (fraction > baseFraction) {
                base = i;
                baseFraction = fraction;
            }
        }
        if (baseFraction < context.settings.getOverlapFractionThreshold()) {
            base = -1;
        }
        LOG.info(
                "Restoring key groups {} by copying entries ({}), {}.",
                context.keyGroupRange.prettyPrintInterval(),
                why,
                base < 0
                        ? "starting from an empty database: no snapshot overlaps by at least "
                                + context.settings.getOverlapFractionThreshold()
                        : "starting from checkpoint "
                                + handles.get(base).getCheckpointId()
                                + " of key groups "
                                + handles.get(base).getKeyGroupRange().prettyPrintInterval());
        if (base >= 0) {
            return restoreFromBase(metaInfos, base, indexes);
        }
        final Map<String, ColumnFamilyHandle> columnFamilies = new LinkedHashMap<>();
        final RocksDBInstance instance = openEmpty();
        try {
            for (int i : indexes) {
                copyInClaimedRange(instance, i, columnFamilies);
            }
            registerAll(instance, metaInfos, columnFamilies);
            return instance;
        } catch (Throwable t) {
            instance.close();
            FileUtils.deleteDirectoryQuietly(context.dbDirectory);
            throw t;
        }
    }

    /**
     * Opens the download of snapshot {@code base} as the database, clips it to the key groups it
     * claims and the backend holds, and copies the entries of the other {@code indexes}.
     */
    private RocksDBInstance restoreFromBase(
            Map<String, StateMetaInfoSnapshot> metaInfos, int base, List<Integer> indexes)
            throws Exception {
        context.moveIntoPlace(downloadDirectories.get(base), handles.get(base).getCheckpointId());
        final List<String> names =
                StateRegistration.names(metaData.get(base).getStateMetaInfoSnapshots());
        final List<ColumnFamilyHandle> opened = new ArrayList<>(names.size());
        final RocksDBInstance instance;
        try {
            instance =
                    context.opener.open(
                            context.dbDirectory, RocksDBInstance.names(names), opened, true);
        } catch (Throwable t) {
            FileUtils.deleteDirectoryQuietly(context.dbDirectory);
            throw t;
        }
        try {
            final Map<String, ColumnFamilyHandle> columnFamilies = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                columnFamilies.put(names.get(i), opened.get(i));
            }
            // the base is authoritative only for the key groups it claims
            clip(
                    instance,
                    columnFamilies.values(),
                    handles.get(base).getKeyGroupRange().getIntersection(context.keyGroupRange));
            for (int i : indexes) {
                if (i != base) {
                    copyInClaimedRange(instance, i, columnFamilies);
                }
            }
            registerAll(instance, metaInfos, columnFamilies);
            return instance;
        } catch (Throwable t) {
            instance.close();
            FileUtils.deleteDirectoryQuietly(context.dbDirectory);
            throw t;
        }
    }

    /**
     * Copies the entries of one snapshot in the key groups that it claims and the backend holds,
     * creating the column families that do not exist yet.
     */
    private void copyInClaimedRange(
            RocksDBInstance target, int index, Map<String, ColumnFamilyHandle> columnFamilies)
            throws Exception {
        final KeyGroupRange range =
                handles.get(index).getKeyGroupRange().getIntersection(context.keyGroupRange);
        final List<StateMetaInfoSnapshot> snapshotMetaInfos =
                metaData.get(index).getStateMetaInfoSnapshots();
        final List<ColumnFamilyHandle> sources = new ArrayList<>(snapshotMetaInfos.size());
        try (RocksDBInstance source =
                        context.opener.open(
                                downloadDirectories.get(index).toFile(),
                                RocksDBInstance.names(StateRegistration.names(snapshotMetaInfos)),
                                sources,
                                false);
                WriteBatch batch = new WriteBatch()) {
            for (int i = 0; i < snapshotMetaInfos.size(); i++) {
                final String name = snapshotMetaInfos.get(i).getName();
                ColumnFamilyHandle columnFamily = columnFamilies.get(name);
                if (columnFamily == null) {
                    columnFamily = target.createColumnFamily(name);
                    columnFamilies.put(name, columnFamily);
                }
                try (BoundedIterator bounded =
                        context.prefixes.iterate(
                                source.getDb(), sources.get(i), source.getReadOptions(), range)) {
                    for (RocksIterator iterator = bounded.iterator();
                            iterator.isValid();
                            iterator.next()) {
                        batch.put(columnFamily, iterator.key(), iterator.value());
                        if (context.writeBatchSize > 0
                                && batch.getDataSize() >= context.writeBatchSize) {
                            write(target, batch);
                        }
                    }
                    bounded.checkEnded(
                            "the entries of state '"
                                    + name
                                    + "' in key groups "
                                    + range.prettyPrintInterval()
                                    + " of checkpoint "
                                    + handles.get(index).getCheckpointId()
                                    + " ("
                                    + handles.get(index).getStateHandleId()
                                    + ")");
                }
                write(target, batch);
            }
        }
    }

    private static void write(RocksDBInstance target, WriteBatch batch) throws RocksDBException {
        if (batch.count() > 0) {
            target.getDb().write(target.getWriteOptions(), batch);
            batch.clear();
        }
    }

    // ------------------------------------------------------------------------
    //  common
    // ------------------------------------------------------------------------

    private RocksDBInstance openEmpty() throws Exception {
        return context.opener.open(
                context.dbDirectory, Collections.emptyList(), new ArrayList<>(), true);
    }

    /**
     * Deletes every key outside {@code range}: at once logically, with a range tombstone on each
     * side that has data (and first the files entirely outside, where configured), and physically
     * later, by RocksDB's clip on a background thread (see {@link #registerAll}). A clip removes
     * the data of other key groups from the files, so that the first checkpoint uploads only the
     * backend's share, but it is a compaction of every file that overlaps the removed range: doing
     * it here would make the task wait for it.
     */
    private void clip(
            RocksDBInstance instance,
            Iterable<ColumnFamilyHandle> columnFamilies,
            KeyGroupRange range)
            throws RocksDBException {
        final byte[] begin = context.prefixes.begin(range);
        final byte[] end = context.prefixes.end(range);
        for (ColumnFamilyHandle columnFamily : columnFamilies) {
            boolean below = false;
            boolean above = false;
            for (LevelMetaData level :
                    instance.getDb().getColumnFamilyMetaData(columnFamily).levels()) {
                for (SstFileMetaData file : level.files()) {
                    below |= KeyGroupPrefixes.compare(file.smallestKey(), begin) < 0;
                    above |= KeyGroupPrefixes.compare(file.largestKey(), end) > 0;
                }
            }
            if (!below && !above) {
                continue;
            }
            if (context.settings.isUseDeleteFilesInRange()) {
                instance.getDb()
                        .deleteFilesInRanges(
                                columnFamily,
                                Arrays.asList(
                                        context.prefixes.lowest(),
                                        begin,
                                        end,
                                        context.prefixes.beyondAll()),
                                false);
            }
            if (below) {
                instance.getDb().deleteRange(columnFamily, context.prefixes.lowest(), begin);
            }
            if (above) {
                instance.getDb().deleteRange(columnFamily, end, context.prefixes.beyondAll());
            }
            toClip.add(columnFamily);
        }
    }

    /**
     * Registers every state once, with the newest meta info; a state without entries in any
     * snapshot gets an empty column family. Then starts the physical clip and, if configured, the
     * compaction after rescaling in the background.
     */
    private void registerAll(
            RocksDBInstance instance,
            Map<String, StateMetaInfoSnapshot> metaInfos,
            Map<String, ColumnFamilyHandle> columnFamilies)
            throws Exception {
        final List<ColumnFamilyHandle> kept = new ArrayList<>(metaInfos.size());
        for (StateMetaInfoSnapshot metaInfo : metaInfos.values()) {
            ColumnFamilyHandle columnFamily = columnFamilies.get(metaInfo.getName());
            if (columnFamily == null) {
                columnFamily = instance.createColumnFamily(metaInfo.getName());
            }
            if (context.registration.register(instance, metaInfo, columnFamily)) {
                kept.add(columnFamily);
            }
        }
        // timers moved onto the heap left their column family: nothing to clip there. Handles
        // are compared by identity: equals() asks the native side, and a dropped one is closed
        final Set<ColumnFamilyHandle> live = Collections.newSetFromMap(new IdentityHashMap<>());
        live.addAll(kept);
        toClip.removeIf(columnFamily -> !live.contains(columnFamily));
        final List<ColumnFamilyHandle> toCompact =
                context.settings.isAsyncCompactAfterRescale()
                        ? kept
                        : Collections.<ColumnFamilyHandle>emptyList();
        if (!toClip.isEmpty() || !toCompact.isEmpty()) {
            instance.startBackgroundClipAndCompaction(
                    toClip,
                    toCompact,
                    context.prefixes.begin(context.keyGroupRange),
                    context.prefixes.end(context.keyGroupRange));
        }
    }
}
