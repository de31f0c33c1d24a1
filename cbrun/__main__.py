from cbrun.cli.main import main

main()
