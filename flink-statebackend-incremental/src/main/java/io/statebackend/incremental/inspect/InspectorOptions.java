package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;
import org.apache.flink.util.TimeUtils;

import javax.annotation.Nullable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The command line of the inspector. */
final class InspectorOptions {

    static final String USAGE =
            String.join(
                    "\n",
                    "Usage: statebackend-inspect [options] CHECKPOINT_DIR",
                    "",
                    "Lists the retained checkpoints in a job's checkpoint directory",
                    "(<state.checkpoints.dir>/<job id>, on any Flink file system; or a directory",
                    "holding several job directories) and the files in its shared/ directory that",
                    "no retained checkpoint or given savepoint refers to. Reads only Flink's",
                    "_metadata files, so it works for checkpoints of this backend, of Flink's",
                    "RocksDB backend and of HashMapStateBackend.",
                    "",
                    "Options:",
                    "  --savepoint PATH        a savepoint (or another job's checkpoint) directory",
                    "                          whose references count too; repeatable",
                    "  --json                  print JSON instead of tables",
                    "  --delete-unreferenced   delete the unreferenced files in shared/ (dry run",
                    "                          unless --yes); needs --older-than",
                    "  --older-than DURATION   only files at least this old (e.g. 30 min, 6 h, 7 d);",
                    "                          nothing is deleted while a checkpoint directory or a",
                    "                          shared file is younger, nor while a checkpoint's",
                    "                          _metadata cannot be read",
                    "  --yes                   really delete",
                    "  --help                  this text",
                    "",
                    "What it can know: a file counts as referenced if a retained checkpoint",
                    "(chk-<id>/_metadata) of an inspected job or a given savepoint refers to it.",
                    "Flink's _metadata does not record which checkpoint uploaded a shared file;",
                    "'first referenced by' is the earliest retained checkpoint that refers to it:",
                    "the file was uploaded by that checkpoint or by an earlier one that is no",
                    "longer retained. Files in taskowned/ that nothing refers to are listed, never",
                    "deleted: Flink's TaskManagers own them. Checkpoint directories without",
                    "_metadata (in progress or aborted) are listed, never deleted.",
                    "",
                    "Exit status: 0 done; 1 unreadable input or a failed deletion; 2 wrong usage;",
                    "3 deletion refused.",
                    "");

    /** Wrong command line; the message says what is wrong. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    @Nullable final Path directory;
    final List<Path> savepoints;
    final boolean json;
    final boolean deleteUnreferenced;
    @Nullable final Duration olderThan;
    final boolean yes;
    final boolean help;

    private InspectorOptions(
            @Nullable Path directory,
            List<Path> savepoints,
            boolean json,
            boolean deleteUnreferenced,
            @Nullable Duration olderThan,
            boolean yes,
            boolean help) {
        this.directory = directory;
        this.savepoints = Collections.unmodifiableList(savepoints);
        this.json = json;
        this.deleteUnreferenced = deleteUnreferenced;
        this.olderThan = olderThan;
        this.yes = yes;
        this.help = help;
    }

    static InspectorOptions parse(String... args) throws UsageException {
        Path directory = null;
        final List<Path> savepoints = new ArrayList<>();
        boolean json = false;
        boolean delete = false;
        Duration olderThan = null;
        boolean yes = false;
        for (int i = 0; i < args.length; i++) {
            final String arg = args[i];
            switch (arg) {
                case "--help":
                case "-h":
                    return new InspectorOptions(null, savepoints, false, false, null, false, true);
                case "--json":
                    json = true;
                    break;
                case "--delete-unreferenced":
                    delete = true;
                    break;
                case "--yes":
                    yes = true;
                    break;
                case "--savepoint":
                    savepoints.add(new Path(value(args, ++i, arg)));
                    break;
                case "--older-than":
                    olderThan = duration(value(args, ++i, arg));
                    break;
                default:
                    if (arg.startsWith("-")) {
                        throw new UsageException("Unknown option " + arg + ".");
                    }
                    if (directory != null) {
                        throw new UsageException(
                                "One checkpoint directory only; also got " + arg + ".");
                    }
                    directory = new Path(arg);
            }
        }
        if (directory == null) {
            throw new UsageException("No checkpoint directory given.");
        }
        if (delete && olderThan == null) {
            throw new UsageException("--delete-unreferenced needs --older-than DURATION.");
        }
        if (yes && !delete) {
            throw new UsageException("--yes only goes with --delete-unreferenced.");
        }
        return new InspectorOptions(directory, savepoints, json, delete, olderThan, yes, false);
    }

    private static String value(String[] args, int index, String option) throws UsageException {
        if (index >= args.length) {
            throw new UsageException(option + " needs a value.");
        }
        return args[index];
    }

    private static Duration duration(String text) throws UsageException {
        final Duration duration;
        try {
            duration = TimeUtils.parseDuration(text);
        } catch (IllegalArgumentException e) {
            throw new UsageException(
                    "--older-than: '" + text + "' is not a duration (e.g. 30 min, 6 h, 7 d).");
        }
        if (duration.isZero() || duration.isNegative()) {
            throw new UsageException("--older-than must be longer than 0.");
        }
        return duration;
    }
}
