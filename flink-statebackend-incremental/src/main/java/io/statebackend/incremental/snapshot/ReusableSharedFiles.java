package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.PhysicalStateHandleID;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.util.Preconditions;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.concurrent.GuardedBy;
import javax.annotation.concurrent.ThreadSafe;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Decides which uploaded shared files (SST and blob files) a checkpoint may refer to by
 * placeholder, and owns everything that decision depends on: the restored starting point and the
 * complete, abort and subsume notifications.
 *
 * <p>A placeholder is only safe if the JobManager still holds the file when the checkpoint is
 * registered. The JobManager keeps every file that its latest completed checkpoint refers to, and a
 * newer checkpoint registers its placeholders before the older one is subsumed. So a file may be
 * referred to if <em>every checkpoint that may be the JobManager's latest completed one</em> refers
 * to it. This class keeps those <em>candidates</em> with the files each refers to, and offers their
 * intersection:
 *
 * <ol>
 *   <li>The starting point is a candidate: the checkpoint this backend was restored from (its
 *       shared files), or, for a new or rescaled backend, "nothing completed yet" (no files).
 *   <li>Every checkpoint taken becomes a candidate the moment its synchronous part runs, because it
 *       may complete without this backend ever hearing of it. Its files are those it decided to
 *       refer to (fixed then) and, once uploaded, those it uploaded. A FULL checkpoint refers to
 *       nothing, so once it is taken nothing older is offered until it or a later checkpoint is
 *       confirmed: after a NO_CLAIM restore the restored snapshot may be deleted as soon as the
 *       FULL checkpoint completes.
 *   <li>{@code complete(n)}: no checkpoint older than {@code n} can be the latest any more; they
 *       stop being candidates. A late confirmation does not make {@code n}'s uploads reusable while
 *       a newer checkpoint that did not refer to them is a candidate (it may have subsumed {@code
 *       n}).
 *   <li>{@code subsumed(n)}: {@code n} and everything older are no longer candidates.
 *   <li>{@code aborted(n)}, or a snapshot that failed here: {@code n} never completes.
 *   <li>A notification for an id this class does not know (a savepoint, a record folded away) tells
 *       nothing it can use and is ignored. Ignoring a notification only ever offers fewer files, so
 *       correctness never depends on which notifications arrive, nor in which order.
 * </ol>
 *
 * <p>Native savepoints are not candidates: the JobManager does not keep them in its checkpoint
 * store and they never subsume a checkpoint.
 *
 * <p>At most {@value #MAX_CANDIDATES} candidates are kept: without notifications the two oldest are
 * folded into one that stands for both ids and refers to the files both refer to.
 */
@ThreadSafe
final class ReusableSharedFiles {

    private static final Logger LOG = LoggerFactory.getLogger(ReusableSharedFiles.class);

    /** Candidates kept before the oldest are folded, so lost notifications cost bounded memory. */
    static final int MAX_CANDIDATES = 9;

    private final Object lock = new Object();

    /** Candidates by the newest checkpoint id they stand for. */
    @GuardedBy("lock")
    private final TreeMap<Long, Candidate> candidates = new TreeMap<>();

    /**
     * @param startCheckpointId the checkpoint this backend was restored from, or a negative id
     * @param startFiles the shared files of that checkpoint that it proves uploaded, by name; empty
     *     for a new backend, a rescaled one or one restored from a savepoint
     */
    ReusableSharedFiles(long startCheckpointId, Map<String, StateFile> startFiles) {
        Candidate start = new Candidate(startCheckpointId, new HashMap<>(startFiles));
        start.confirmed = true;
        candidates.put(startCheckpointId, start);
    }

    /**
     * Registers a checkpoint whose synchronous part just ran and returns the shared files it refers
     * to instead of uploading them. The result is fixed: the checkpoint must refer to exactly
     * these, so that what later checkpoints are offered stays true.
     *
     * @param localFileSizes the shared files of the checkpoint's local directory, name to size
     * @param couldReuse whether checkpoint storage accepts a handle for reuse
     */
    Map<String, StateFile> checkpointTaken(
            long checkpointId,
            boolean full,
            Map<String, Long> localFileSizes,
            Predicate<StreamStateHandle> couldReuse) {
        synchronized (lock) {
            final Map<String, StateFile> referred = new HashMap<>();
            if (!full) {
                for (StateFile file : reusableLocked().values()) {
                    Long localSize = localFileSizes.get(file.getName());
                    if (localSize != null
                            && localSize == file.getSize()
                            && couldReuse.test(file.getHandle())) {
                        referred.put(file.getName(), file);
                    }
                }
            }
            Candidate existing = candidates.get(checkpointId);
            if (existing != null) {
                // the same id snapshotted twice: either attempt may be the one that completes
                existing.files.keySet().retainAll(referred.keySet());
                existing.ambiguous = true;
            } else {
                candidates.put(checkpointId, new Candidate(checkpointId, new HashMap<>(referred)));
                foldOldestWhileTooMany();
            }
            return Collections.unmodifiableMap(referred);
        }
    }

    /** The checkpoint's uploads are done: if it completes, they are alive at the JobManager. */
    void checkpointUploaded(long checkpointId, Collection<StateFile> uploadedSstFiles) {
        synchronized (lock) {
            Candidate candidate = candidates.get(checkpointId);
            if (candidate == null || candidate.isFolded() || candidate.ambiguous) {
                return;
            }
            for (StateFile file : uploadedSstFiles) {
                candidate.files.put(file.getName(), file);
            }
        }
    }

    /** The checkpoint failed in this backend, so the JobManager cannot complete it. */
    void checkpointFailed(long checkpointId) {
        synchronized (lock) {
            Candidate candidate = candidates.get(checkpointId);
            if (candidate != null
                    && !candidate.isFolded()
                    && !candidate.ambiguous
                    && !candidate.confirmed) {
                removeLocked(checkpointId);
            }
        }
    }

    void complete(long checkpointId) {
        synchronized (lock) {
            Candidate candidate = candidateStandingFor(checkpointId);
            if (candidate == null) {
                return;
            }
            candidates.headMap(checkpointId, false).clear();
            if (!candidate.isFolded()) {
                candidate.confirmed = true;
            }
        }
    }

    void aborted(long checkpointId) {
        synchronized (lock) {
            Candidate candidate = candidates.get(checkpointId);
            if (candidate != null && !candidate.isFolded() && !candidate.confirmed) {
                removeLocked(checkpointId);
            }
        }
    }

    void subsumed(long checkpointId) {
        if (checkpointId < 0) {
            // Flink sends an invalid id when nothing was subsumed
            return;
        }
        synchronized (lock) {
            if (candidates.lastKey() <= checkpointId) {
                // a checkpoint this backend does not know is the latest now
                Candidate unknown = new Candidate(checkpointId, new HashMap<>());
                candidates.clear();
                candidates.put(checkpointId, unknown);
                return;
            }
            candidates.headMap(checkpointId, true).clear();
        }
    }

    /** The files a checkpoint taken now would be offered, by name. */
    Map<String, StateFile> reusable() {
        synchronized (lock) {
            return Collections.unmodifiableMap(reusableLocked());
        }
    }

    /** The ids of the candidates, for tests; a folded candidate is listed by its newest id. */
    List<Long> candidateIds() {
        synchronized (lock) {
            return new ArrayList<>(candidates.keySet());
        }
    }

    // ------------------------------------------------------------------------

    @GuardedBy("lock")
    private Map<String, StateFile> reusableLocked() {
        Candidate smallest = null;
        for (Candidate candidate : candidates.values()) {
            if (smallest == null || candidate.files.size() < smallest.files.size()) {
                smallest = candidate;
            }
        }
        Map<String, StateFile> result = new HashMap<>();
        for (StateFile file : smallest.files.values()) {
            if (referredToByAll(file)) {
                result.put(file.getName(), file);
            }
        }
        return result;
    }

    @GuardedBy("lock")
    private boolean referredToByAll(StateFile file) {
        PhysicalStateHandleID id = file.getHandle().getStreamStateHandleID();
        for (Candidate candidate : candidates.values()) {
            StateFile same = candidate.files.get(file.getName());
            if (same == null || !same.getHandle().getStreamStateHandleID().equals(id)) {
                return false;
            }
        }
        return true;
    }

    /** The candidate whose ids include {@code checkpointId}, or null. */
    @GuardedBy("lock")
    private Candidate candidateStandingFor(long checkpointId) {
        Map.Entry<Long, Candidate> entry = candidates.ceilingEntry(checkpointId);
        if (entry == null || entry.getValue().oldestId > checkpointId) {
            return null;
        }
        return entry.getValue();
    }

    @GuardedBy("lock")
    private void removeLocked(long checkpointId) {
        candidates.remove(checkpointId);
        if (candidates.isEmpty()) {
            // cannot happen with truthful notifications; stay on the safe side if it does
            candidates.put(checkpointId, new Candidate(checkpointId, new HashMap<>()));
        }
    }

    @GuardedBy("lock")
    private void foldOldestWhileTooMany() {
        while (candidates.size() > MAX_CANDIDATES) {
            Iterator<Candidate> oldestFirst = candidates.values().iterator();
            Candidate oldest = oldestFirst.next();
            oldestFirst.remove();
            Candidate next = oldestFirst.next();
            oldestFirst.remove();
            Map<String, StateFile> common = new HashMap<>();
            for (StateFile file : next.files.values()) {
                StateFile other = oldest.files.get(file.getName());
                if (other != null
                        && other.getHandle()
                                .getStreamStateHandleID()
                                .equals(file.getHandle().getStreamStateHandleID())) {
                    common.put(file.getName(), file);
                }
            }
            Candidate folded = new Candidate(oldest.oldestId, next.newestId, common);
            candidates.put(folded.newestId, folded);
            LOG.debug(
                    "Checkpoints {} to {} are still unconfirmed; only files they all refer to stay"
                            + " reusable.",
                    folded.oldestId,
                    folded.newestId);
        }
    }

    /** A checkpoint, or a folded range of them, that may be the JobManager's latest completed. */
    private static final class Candidate {
        final long oldestId;
        final long newestId;

        /** The shared files it refers to, by name, with their physical handles. */
        final Map<String, StateFile> files;

        /** The JobManager said it completed. */
        boolean confirmed;

        /** Snapshotted more than once: which attempt the JobManager holds is unknown. */
        boolean ambiguous;

        Candidate(long checkpointId, Map<String, StateFile> files) {
            this(checkpointId, checkpointId, files);
        }

        Candidate(long oldestId, long newestId, Map<String, StateFile> files) {
            Preconditions.checkArgument(oldestId <= newestId);
            this.oldestId = oldestId;
            this.newestId = newestId;
            this.files = files;
        }

        boolean isFolded() {
            return oldestId != newestId;
        }
    }
}
