package io.statebackend.incremental.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Random;

/**
 * The RPCs from the JobManager to the tasks: each notification may be lost when sent, and waits in
 * a queue until a step delivers it, in any order, possibly more than once.
 */
final class NotificationChannel {

    /** The three notifications of the checkpoint protocol a keyed backend hears about. */
    enum Kind {
        COMPLETE,
        ABORTED,
        SUBSUMED
    }

    /** One notification on its way to one subtask. */
    static final class Notification {
        private final Kind kind;
        private final long checkpointId;
        private final Subtask target;
        private final long sequence;

        Notification(Kind kind, long checkpointId, Subtask target, long sequence) {
            this.kind = kind;
            this.checkpointId = checkpointId;
            this.target = target;
            this.sequence = sequence;
        }

        Kind kind() {
            return kind;
        }

        long checkpointId() {
            return checkpointId;
        }

        Subtask target() {
            return target;
        }

        @Override
        public String toString() {
            return kind + "(" + checkpointId + ")->" + target.getName();
        }
    }

    private final Random random;
    private final double lossRate;
    private final double duplicationRate;
    private final RunStatistics statistics;
    private final StepLog log;
    private final List<Notification> queue = new ArrayList<>();
    private long sequence;

    NotificationChannel(
            Random random,
            double lossRate,
            double duplicationRate,
            RunStatistics statistics,
            StepLog log) {
        this.random = random;
        this.lossRate = lossRate;
        this.duplicationRate = duplicationRate;
        this.statistics = statistics;
        this.log = log;
    }

    /** Sends a notification to every subtask; each copy may be lost on the way. */
    void send(Kind kind, long checkpointId, Collection<Subtask> targets, boolean mayBeLost) {
        List<String> lost = new ArrayList<>();
        for (Subtask target : targets) {
            statistics.increment("notifications.sent");
            if (mayBeLost && random.nextDouble() < lossRate) {
                statistics.increment("notifications.lost");
                lost.add(target.getName());
            } else {
                queue.add(new Notification(kind, checkpointId, target, sequence++));
            }
        }
        log.detail(
                "JM sends "
                        + kind
                        + "("
                        + checkpointId
                        + ")"
                        + (lost.isEmpty() ? "" : ", lost on the way to " + lost));
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    int size() {
        return queue.size();
    }

    /**
     * Takes a notification out of the queue to deliver it: any one of them, so a later one may
     * overtake an earlier one; sometimes a copy stays queued and arrives again.
     */
    Notification takeAny(boolean mayDuplicate) {
        int index = random.nextInt(queue.size());
        Notification notification = queue.get(index);
        for (int i = 0; i < index; i++) {
            if (queue.get(i).target == notification.target) {
                statistics.increment("notifications.reordered");
                break;
            }
        }
        if (mayDuplicate && random.nextDouble() < duplicationRate) {
            statistics.increment("notifications.duplicated");
            queue.add(
                    new Notification(
                            notification.kind,
                            notification.checkpointId,
                            notification.target,
                            sequence++));
        }
        queue.remove(index);
        statistics.increment("notifications.delivered");
        return notification;
    }

    /** Drops what was on its way to subtasks that are gone. */
    void dropFor(Collection<Subtask> disposed) {
        Iterator<Notification> iterator = queue.iterator();
        while (iterator.hasNext()) {
            if (disposed.contains(iterator.next().target)) {
                iterator.remove();
                statistics.increment("notifications.toDisposedSubtasks");
            }
        }
    }
}
