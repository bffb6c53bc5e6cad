package io.statebackend.incremental.inspect;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.plugin.PluginUtils;

import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * The checkpoint inspector's command line ({@code bin/statebackend-inspect}): see {@link
 * InspectorOptions#USAGE}. Needs nothing but Flink's {@code lib/} on the class path; reads Flink's
 * configuration ({@code FLINK_CONF_DIR}) and file system plugins ({@code FLINK_PLUGINS_DIR}) so
 * that any file system a cluster can checkpoint to can be inspected.
 */
public final class InspectorMain {

    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;
    public static final int REFUSED = 3;

    private InspectorMain() {}

    public static void main(String[] args) {
        try {
            initializeFileSystems();
        } catch (RuntimeException e) {
            System.err.println("statebackend-inspect: cannot set up Flink's file systems: " + e);
            System.exit(FAILED);
        }
        System.exit(run(args, System.out, System.err, System::currentTimeMillis));
    }

    /**
     * Runs the inspector with Flink's file systems as they are set up in this JVM.
     *
     * @param clock the time file ages are measured against
     * @return the exit status
     */
    public static int run(String[] args, PrintStream out, PrintStream err, LongSupplier clock) {
        final InspectorOptions options;
        try {
            options = InspectorOptions.parse(args);
        } catch (InspectorOptions.UsageException e) {
            err.println(e.getMessage());
            err.println();
            err.print(InspectorOptions.USAGE);
            return USAGE;
        }
        if (options.help) {
            out.print(InspectorOptions.USAGE);
            return OK;
        }

        final Inspection inspection;
        try {
            inspection =
                    new Inspector()
                            .inspect(options.directory, options.savepoints, clock.getAsLong());
        } catch (InspectionException e) {
            err.println("statebackend-inspect: " + e.getMessage());
            return FAILED;
        }
        final Deletion deletion =
                options.deleteUnreferenced
                        ? Deletion.run(inspection, options.olderThan, !options.yes)
                        : null;

        out.print(
                options.json
                        ? JsonReport.render(inspection, deletion)
                        : TableReport.render(inspection, deletion));

        int status = OK;
        for (CheckpointSummary checkpoint : inspection.allCheckpoints()) {
            if (!checkpoint.isReadable()) {
                err.println("statebackend-inspect: " + checkpoint.getError());
                status = FAILED;
            }
        }
        if (deletion != null && deletion.isRefused()) {
            // the reasons are in the report; the first one here names the cause for logs
            err.println(
                    "statebackend-inspect: deletion refused, nothing deleted: "
                            + deletion.getRefusedBecause().get(0)
                            + (deletion.getRefusedBecause().size() > 1
                                    ? " (and "
                                            + (deletion.getRefusedBecause().size() - 1)
                                            + " more)"
                                    : ""));
            return REFUSED;
        }
        if (deletion != null && !deletion.getFailures().isEmpty()) {
            err.println(
                    "statebackend-inspect: "
                            + deletion.getFailures().size()
                            + " file(s) could not be deleted.");
            status = FAILED;
        }
        return status;
    }

    /** Flink's file systems as a cluster configures them, plugins included. */
    private static void initializeFileSystems() {
        final String confDir = System.getenv("FLINK_CONF_DIR");
        final Configuration config =
                confDir != null
                        ? GlobalConfiguration.loadConfiguration(confDir)
                        : new Configuration();
        FileSystem.initialize(config, PluginUtils.createPluginManagerFromRootFolder(config));
    }
}
