module svbench/gobaseline

go 1.19
